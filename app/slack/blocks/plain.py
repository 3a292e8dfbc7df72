"""Block Kit's plain pieces: one section, an error, a context line, a button."""

from __future__ import annotations

from typing import Any

from app.slack.text import escape

SECTION_LIMIT = 3000  # Slack refuses a section text longer than this


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SECTION_LIMIT]}]}


def text_blocks(text: str) -> list[dict[str, Any]]:
    return [section(text)]


def error_blocks(message: str) -> list[dict[str, Any]]:
    """A refusal as the owner sees it: `:x:` and the message, escaped."""
    return text_blocks(f":x: {escape(message)}")


def button(action_id: str, text: str, value: str | None = None, *, style: str | None = None) -> dict[str, Any]:
    """A button; `style` is "primary" or "danger" (Slack draws the default when it is left out)."""
    element: dict[str, Any] = {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": text}}
    if value is not None:
        element["value"] = value
    if style:
        element["style"] = style
    return element
