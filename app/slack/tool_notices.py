"""DMs about tools the owner must look at: changed or new tools held until approved."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from app.domain.server import ServerRecord
from app.domain.tool_policy import ToolDecision
from app.slack import ids
from app.slack.text import code, escape

MAX_LISTED = 20


def held_tools_blocks(record: ServerRecord, decisions: list[ToolDecision]) -> list[dict[str, Any]]:
    held = [d for d in decisions if d.state == "held"]
    denied = [d for d in decisions if d.state == "denied"]
    lines = [f"• {code(record.name + '__' + d.name)} — {escape(d.reason)}" for d in [*held, *denied][:MAX_LISTED]]
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
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}},
    ]
    if held:
        value = f"{record.id}:" + ",".join(d.name for d in held)
        if len(value) <= 2000:
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
                            "text": {"type": "plain_text", "text": "Approve changes"},
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
    if denied:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": (
                            f"Risky new tools start denied; `/mcp allow {escape(record.name)} TOOL` "
                            "enables one after a warning."
                        ),
                    }
                ],
            }
        )
    return blocks


class HeldToolsDM:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def tools_held(self, record: ServerRecord, decisions: list[ToolDecision]) -> None:
        await self._client.chat_postMessage(
            channel=record.owner.user_id,
            text=f"The tools of {record.name} changed; review them.",
            blocks=held_tools_blocks(record, decisions),
            unfurl_links=False,
            unfurl_media=False,
        )
