"""DMs during and after a remote server's sign-in."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from app.slack.blocks.connector import connected_blocks, failed_blocks, reauth_blocks, sign_in_blocks


class ConnectorDM:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def _dm(self, record: ServerRecord, text: str, blocks: list[dict[str, Any]]) -> None:
        await self._client.chat_postMessage(
            channel=record.owner.user_id, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
        )

    async def sign_in_link(self, record: ServerRecord, start_url: str, authorization_host: str) -> None:
        blocks = sign_in_blocks(record, start_url, authorization_host)
        await self._dm(record, f"Sign in to connect {record.name}", blocks)

    async def connected(self, record: ServerRecord, status: ServerStatus, tool_names: list[str]) -> None:
        await self._dm(record, f"Connected {record.name}", connected_blocks(record, status, tool_names))

    async def failed(self, record: ServerRecord, reason: str) -> None:
        await self._dm(record, f"Could not connect {record.name}", failed_blocks(record, reason))

    async def reauth_needed(self, record: ServerRecord) -> None:
        await self._dm(record, f"{record.name} needs re-authentication", reauth_blocks(record))
