"""DMs about tools the owner must look at: changed or new tools held until approved."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from app.domain.server import ServerRecord
from app.services.tool_policy_service import HeldChange
from app.slack.blocks.held_tools import held_tools_blocks


class HeldToolsDM:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def tools_held(self, record: ServerRecord, changes: list[HeldChange]) -> None:
        await self._client.chat_postMessage(
            channel=record.owner.user_id,
            text=f"The tools of {record.name} changed; review them.",
            blocks=held_tools_blocks(record, changes),
            unfurl_links=False,
            unfurl_media=False,
        )
