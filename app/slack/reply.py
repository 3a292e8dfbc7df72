"""Where an answer goes: the invoking conversation via response_url (ephemeral), else the owner's DM."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from app.domain.owner import Owner
from app.slack.pooled_respond import PooledRespond


class Reply:
    """Send, then keep updating, one message the owner sees."""

    def __init__(self, client: AsyncWebClient, owner: Owner, response_url: str | None) -> None:
        self._client = client
        self._owner = owner
        self._respond = PooledRespond.of(client, response_url) if response_url else None
        self._dm: tuple[str, str] | None = None  # (channel, ts) of the DM once posted

    async def send(self, text: str, blocks: list[dict[str, Any]], *, replace: bool = True) -> None:
        if self._respond is not None:
            await self._respond(
                text=text,
                blocks=blocks,
                response_type="ephemeral",
                replace_original=replace,
                unfurl_links=False,
                unfurl_media=False,
            )
            return
        if self._dm is not None and replace:
            channel, ts = self._dm
            await self._client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
            return
        posted = await self._client.chat_postMessage(
            channel=self._owner.user_id, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
        )
        self._dm = (posted["channel"], posted["ts"])
