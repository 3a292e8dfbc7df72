"""DMs during and after a remote server's sign-in."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from app.slack import ids
from app.slack.text import code, escape


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


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


class ConnectorDM:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def _dm(self, record: ServerRecord, text: str, blocks: list[dict[str, Any]]) -> None:
        await self._client.chat_postMessage(
            channel=record.owner.user_id, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
        )

    async def sign_in_link(self, record: ServerRecord, start_url: str, authorization_host: str) -> None:
        await self._dm(
            record,
            f"Sign in to connect {record.name}",
            [
                _section(
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
            ],
        )

    async def connected(self, record: ServerRecord, status: ServerStatus, tool_names: list[str]) -> None:
        if status.state == "ready":
            shown = ", ".join(code(t) for t in tool_names[:20]) or "no tools yet"
            text = f":white_check_mark: Connected {code(record.name)} — {status.tool_count} tools: {shown}"
        else:
            text = f"Signed in to {code(record.name)}, but it is {escape(status.label())}."
        await self._dm(record, f"Connected {record.name}", [_section(text)])

    async def failed(self, record: ServerRecord, reason: str) -> None:
        await self._dm(
            record,
            f"Could not connect {record.name}",
            [
                _section(f":x: Could not connect {code(record.name)}: {escape(reason)}"),
                _reconnect_button(record, "Try again"),
            ],
        )

    async def reauth_needed(self, record: ServerRecord) -> None:
        await self._dm(
            record,
            f"{record.name} needs re-authentication",
            [
                _section(
                    f":key: {code(record.name)} needs re-authentication: its sign-in expired or was revoked. "
                    "Its tools are unavailable until you reconnect."
                ),
                _reconnect_button(record, "Reconnect"),
            ],
        )
