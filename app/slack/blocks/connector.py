"""Block Kit for the DMs during and after a remote server's sign-in."""

from __future__ import annotations

from typing import Any

from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from app.slack import ids
from app.slack.blocks.plain import section
from app.slack.text import code, escape


def sign_in_blocks(record: ServerRecord, start_url: str, authorization_host: str) -> list[dict[str, Any]]:
    return [
        section(
            f":key: To connect {code(record.name)}, sign in at {code(authorization_host)}. "
            "The link works once, for 10 minutes, in your browser."
        ),
        {
            "type": "actions",
            "block_id": "sign_in",
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.SIGN_IN_LINK,
                    "style": "primary",
                    "url": start_url,
                    "text": {"type": "plain_text", "text": "Connect"},
                },
            ],
        },
    ]


def connected_blocks(record: ServerRecord, status: ServerStatus, tool_names: list[str]) -> list[dict[str, Any]]:
    if status.state == "ready":
        shown = ", ".join(code(t) for t in tool_names[:20]) or "no tools yet"
        text = f":white_check_mark: Connected {code(record.name)} — {status.tool_count} tools: {shown}"
    else:
        text = f"Signed in to {code(record.name)}, but it is {escape(status.label())}."
    return [section(text)]


def failed_blocks(record: ServerRecord, reason: str) -> list[dict[str, Any]]:
    return [
        section(f":x: Could not connect {code(record.name)}: {escape(reason)}"),
        _reconnect_button(record, "Try again"),
    ]


def reauth_blocks(record: ServerRecord) -> list[dict[str, Any]]:
    return [
        section(
            f":key: {code(record.name)} needs re-authentication: its sign-in expired or was revoked. "
            "Its tools are unavailable until you reconnect."
        ),
        _reconnect_button(record, "Reconnect"),
    ]


def _reconnect_button(record: ServerRecord, label: str) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": "reconnect",
        "elements": [
            {
                "type": "button",
                "action_id": ids.RECONNECT,
                "style": "primary",
                "value": record.id,
                "text": {"type": "plain_text", "text": label},
            },
        ],
    }
