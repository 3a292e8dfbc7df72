"""Block Kit for the DM about changed or new tools held until their owner approves them.

The Approve / Keep buttons carry `held_button_value`: exactly which tool definitions (by pin) the owner saw."""

from __future__ import annotations

from typing import Any

from app.domain.server import ServerRecord
from app.services.tool_policy_service import PIN_SHOWN, HeldChange
from app.slack import ids
from app.slack.text import code, escape, truncate

MAX_LISTED = 20
DESCRIPTION_SHOWN = 400
MAX_VALUE = 2000  # Slack's limit on a button value


def held_button_value(server_id: str, changes: list[HeldChange]) -> str:
    """`server_id:tool@pin,tool@pin`: the pins say exactly which definitions the owner was shown."""
    return f"{server_id}:" + ",".join(f"{c.decision.name}@{c.decision.pin[:PIN_SHOWN]}" for c in changes)


def parse_held_button_value(value: str) -> tuple[str, dict[str, str]]:
    server_id, _, listed = value.partition(":")
    shown: dict[str, str] = {}
    for item in listed.split(","):
        name, _, pin = item.partition("@")
        if name:
            shown[name] = pin
    return server_id, shown


def _description(text: str | None) -> str:
    return escape(truncate(" ".join((text or "").split()), DESCRIPTION_SHOWN)) or "_(no description)_"


def _change_lines(record: ServerRecord, change: HeldChange) -> list[str]:
    decision = change.decision
    exposed = code(record.name + "__" + decision.name)
    if change.before is None:
        kind = "new or changed since Plugboard last saw it"
    else:
        kind = "changed: " + (", ".join(change.fields) or "definition")
    lines = [f"• {exposed} — *{decision.state}* ({escape(decision.reason)}); {escape(kind)}"]
    if change.before is not None and "description" in change.fields:
        lines.append(f"     was: {_description(change.before.description)}")
        lines.append(f"     now: {_description(change.after.description)}")
    else:
        lines.append(f"     {_description(change.after.description)}")
    return lines


def held_tools_blocks(record: ServerRecord, changes: list[HeldChange]) -> list[dict[str, Any]]:
    held = [c for c in changes if c.decision.state == "held"]
    denied = [c for c in changes if c.decision.state == "denied"]
    shown = [*held, *denied][:MAX_LISTED]
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f":shield: The tools of {code(record.name)} changed. "
                    "Changed and new tools stay disabled until you decide."
                ),
            },
        }
    ]
    for change in shown:
        text = "\n".join(_change_lines(record, change))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}})
    if len(changes) > len(shown):
        more = f"…and {len(changes) - len(shown)} more; see `/mcp tools {escape(record.name)}`."
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    value = held_button_value(record.id, held)
    if held and len(value) <= MAX_VALUE:
        blocks.append(
            {
                "type": "actions",
                "block_id": "held_decision",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ids.APPROVE_HELD,
                        "style": "primary",
                        "value": value,
                        "text": {"type": "plain_text", "text": "Approve"},
                    },
                    {
                        "type": "button",
                        "action_id": ids.KEEP_HELD,
                        "value": value,
                        "text": {"type": "plain_text", "text": "Keep disabled"},
                    },
                ],
            }
        )
    elif held:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"Too many to list here: `/mcp allow {escape(record.name)}__TOOL` approves one.",
                    }
                ],
            }
        )
    if denied:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": (
                            f"Risky new tools start denied; `/mcp allow {escape(record.name)}__TOOL` "
                            "enables one after a warning."
                        ),
                    }
                ],
            }
        )
    return blocks
