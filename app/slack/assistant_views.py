"""The Slack side of `TurnViews`: replies streamed into threads, approval requests, and what became of them."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.assistant import ApprovalAsk, ApprovalState, PendingApproval, ThreadRef
from app.domain.owner import Owner
from app.slack.blocks.assistant import answered_blocks, approval_blocks, approval_text
from app.slack.turn_stream import SlackTurnView, set_thread_status

log = logging.getLogger(__name__)


THINKING = "is thinking…"


class SlackTurnViews:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._background: set[asyncio.Task[None]] = set()

    def thinking(self, thread: ThreadRef) -> None:
        task = asyncio.get_running_loop().create_task(set_thread_status(self._client, thread, THINKING))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def open(self, owner: Owner, thread: ThreadRef, *, first_reply: bool) -> SlackTurnView:
        return SlackTurnView(self._client, owner, thread, first_reply=first_reply)

    async def ask(self, owner: Owner, thread: ThreadRef, ask: ApprovalAsk) -> str | None:
        try:
            posted = await self._client.chat_postMessage(
                channel=thread.channel_id,
                thread_ts=thread.thread_ts,
                text=approval_text(ask),
                blocks=approval_blocks(ask, owner.user_id),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:  # the approval stays pending; it expires and the model is told
            log.warning("could not post an approval request: %s", exc.response.get("error"))
            return None
        ts: str = posted["ts"]
        return ts

    async def answered(self, approval: PendingApproval, state: ApprovalState) -> None:
        if approval.message_ts is None:
            return
        await self._client.chat_update(
            channel=approval.thread.channel_id,
            ts=approval.message_ts,
            text=f"{approval.tool_name}: {state}",
            blocks=answered_blocks(approval.tool_name, state, approval.owner.user_id),
        )
