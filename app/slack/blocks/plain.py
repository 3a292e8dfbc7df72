"""Block Kit for messages that are only text: one section, an error, a context line."""

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
