"""Rows of an owner's servers with their status and a menu of actions (used by /mcp list and App Home)."""

from __future__ import annotations

from typing import Any

from app.domain.remote_config import OAuthAuth, RemoteServerConfig
from app.domain.server import ServerRecord
from app.domain.server_config import summary
from app.domain.status import ServerStatus
from app.services.server_service import ServerOverview
from app.slack import ids
from app.slack.text import code, escape, truncate

MAX_ROWS = 40
_STATE_ICON = {
    "ready": ":large_green_circle:",
    "starting": ":hourglass_flowing_sand:",
    "error": ":red_circle:",
    "stopped": ":white_circle:",
    "needs_auth": ":key:",
    "idle": ":zzz:",  # stored and enabled, starts on first use: nothing is wrong
}


def admin_servers_block(provided: list[tuple[ServerRecord, ServerStatus]]) -> dict[str, Any]:
    """The servers the admin provides to everyone, under the owner's own list."""
    lines = ", ".join(f"{code(record.name)} ({escape(status.label())})" for record, status in provided)
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Provided by your admin: {lines}"[:3000]}]}


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": label}, "value": value}


def _signs_in(record: ServerRecord) -> bool:
    return isinstance(record.config, RemoteServerConfig) and isinstance(record.config.auth, OAuthAuth)


def server_row(item: ServerOverview) -> dict[str, Any]:
    record, status = item.record, item.status
    icon = _STATE_ICON.get(status.state, ":white_circle:")
    command = truncate(summary(record.config), 200)
    text = f"{icon} *{escape(record.name)}* — {escape(status.label())}\n{code(command)}"
    toggle = _option("Disable", f"disable:{record.id}") if record.enabled else _option("Enable", f"enable:{record.id}")
    return {
        "type": "section",
        "block_id": f"server:{record.id}",
        "text": {"type": "mrkdwn", "text": truncate(text, 2900)},
        "accessory": {
            "type": "overflow",
            "action_id": ids.SERVER_MENU,
            "options": [
                _option("Edit", f"edit:{record.id}"),
                toggle,
                *([_option("Reconnect", f"reconnect:{record.id}")] if _signs_in(record) else []),
                _option("Remove", f"remove:{record.id}"),
            ],
        },
    }


def server_list_blocks(items: list[ServerOverview]) -> list[dict[str, Any]]:
    if not items:
        return [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": (
                        "You have no MCP servers yet. Add one with `/mcp add` or paste a config with `/mcp add-json`."
                    ),
                },
            }
        ]
    blocks: list[dict[str, Any]] = [server_row(item) for item in items[:MAX_ROWS]]
    if len(items) > MAX_ROWS:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"…and {len(items) - MAX_ROWS} more. Use `/mcp edit NAME` for those."}
                ],
            }
        )
    return blocks


def remove_prompt_blocks(item: ServerOverview) -> list[dict[str, Any]]:
    record = item.record
    return [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f"Remove {code(record.name)}? Its process is stopped and its config and stored secrets are deleted"
                    + (", and so is its private home folder with everything in it." if item.is_local else ".")
                ),
            },
        },
        {
            "type": "actions",
            "block_id": "remove_decision",
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.CONFIRM_REMOVE,
                    "style": "danger",
                    "value": record.id,
                    "text": {"type": "plain_text", "text": "Remove"},
                },
                {
                    "type": "button",
                    "action_id": ids.CANCEL_REMOVE,
                    "value": record.id,
                    "text": {"type": "plain_text", "text": "Keep it"},
                },
            ],
        },
    ]
