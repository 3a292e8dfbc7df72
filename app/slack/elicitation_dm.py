"""Posts a server's question (MCP elicitation) where the service says, and updates it once it is settled."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.services.elicitation_service import ElicitationRequest, Outcome
from app.slack.blocks.elicitation import question_blocks, question_text, settled_blocks

log = logging.getLogger(__name__)


class ElicitationDM:
    """Implements `ElicitationNotifier`: the owner's DM by default, the caller's thread when it named one."""

    def __init__(self, client: AsyncWebClient, *, minutes: int) -> None:
        self._client = client
        self._minutes = minutes
        self._posted: dict[str, tuple[str, str]] = {}  # request id -> (channel, ts) of its message

    async def ask(self, request: ElicitationRequest) -> None:
        where = request.where
        try:
            posted = await self._post(request, where.channel if where else None, where.thread_ts if where else None)
        except SlackApiError:
            if where is None:
                raise
            log.warning("could not ask in the caller's thread; asking in the DM instead", exc_info=True)
            posted = await self._post(request, None, None)
        self._posted[request.id] = posted

    async def _post(self, request: ElicitationRequest, channel: str | None, thread_ts: str | None) -> tuple[str, str]:
        posted = await self._client.chat_postMessage(
            channel=channel or request.owner.user_id,
            thread_ts=thread_ts,
            text=question_text(request),
            blocks=question_blocks(request, self._minutes),
            unfurl_links=False,  # MCP: a URL the server sends is never fetched on its own
            unfurl_media=False,
        )
        return str(posted["channel"]), str(posted["ts"])

    async def settled(self, request: ElicitationRequest, outcome: Outcome) -> None:
        posted = self._posted.pop(request.id, None)
        if posted is None:
            return
        channel, ts = posted
        await self._client.chat_update(
            channel=channel,
            ts=ts,
            text=question_text(request),
            blocks=settled_blocks(request, outcome),
            unfurl_links=False,
            unfurl_media=False,
        )
