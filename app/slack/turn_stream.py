"""One assistant reply written into a Slack thread as it is produced.

Streams with chat.startStream / appendStream / stopStream (tool calls as `task_update` steps); where Slack refuses
streaming (not enabled, rate-limited, stream expired) it falls back to chat.postMessage + chat.update with the
same content. `assistant.threads.setStatus` shows what is happening meanwhile. The model's text is escaped, so it
cannot ping `@channel` or forge links.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.assistant import Step, ThreadRef
from app.domain.owner import Owner
from app.slack.blocks.assistant import after_answer_blocks, answer_sections, markdown_chunk, step_chunk, step_line
from app.slack.text import escape, truncate

log = logging.getLogger(__name__)

FLUSH_CHARS = 200  # buffer this much text before a Slack call (Tier 4 appends, but not per token)
STREAM_TEXT_LIMIT = 11_000  # text in one streamed message (Slack holds about 12,000; the rest continues below)
MESSAGE_TEXT_LIMIT = 39_000  # chat.postMessage / chat.update text (40,000 with room for the steps)


class SlackTurnView:
    def __init__(self, client: AsyncWebClient, owner: Owner, thread: ThreadRef, *, first_reply: bool) -> None:
        self._client = client
        self._owner = owner
        self._thread = thread
        self._first_reply = first_reply
        self._ts: str | None = None
        self._streamed_chars = 0
        self._status_wanted: str | None = None
        self._status_sender: asyncio.Task[None] | None = None
        self._streaming = True  # until Slack refuses; then chat.postMessage + chat.update
        self._pending = ""
        self._text = ""
        self._steps: dict[str, Step] = {}
        self._failure: str | None = None
        self._stopped = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def thread_value(self) -> str:
        return f"{self._thread.channel_id}|{self._thread.thread_ts}"

    async def status(self, text: str) -> None:
        """Show what is happening; never waits for Slack (a status must not slow a tool call down). Statuses are
        sent in order by one task, and one superseded while another is in flight is skipped."""
        self._status_wanted = text[:200]
        if self._status_sender is None or self._status_sender.done():
            self._status_sender = asyncio.get_running_loop().create_task(self._send_statuses())

    async def _send_statuses(self) -> None:
        while self._status_wanted is not None:
            text, self._status_wanted = self._status_wanted, None
            await set_thread_status(self._client, self._thread, text)

    async def _statuses_sent(self) -> None:
        if self._status_sender is not None:
            await self._status_sender

    async def text(self, delta: str) -> None:
        if self._stopped:
            return
        self._pending += delta
        if len(self._pending) >= FLUSH_CHARS:
            await self._flush()

    async def step(self, step: Step) -> None:
        earlier = self._steps.get(step.call_id)
        if self._stopped or (earlier is not None and earlier.state != "running" and step.state == "running"):
            return  # a late progress note must not reopen a finished step
        await self._flush()
        self._steps[step.call_id] = step
        if self._streaming and await self._stream([step_chunk(step)]):
            return
        await self._render()

    async def failed(self, message: str) -> None:
        await self._flush()
        self._failure = message

    async def finish(self) -> None:
        if self._stopped:
            await self.status("")
            await self._statuses_sent()
            return
        await self._flush()
        failure_line = f"\n\n:warning: {escape(self._failure)}" if self._failure is not None else ""
        self._text += failure_line
        blocks = after_answer_blocks(
            thread_value=self.thread_value,
            tools_button=self._first_reply,
            retry=self._failure is not None,
        )
        if self._ts is None and not self._text and not self._steps:
            await self.status("")
            await self._statuses_sent()
            return  # nothing to say (the turn paused for approval before writing anything)
        if self._streaming and self._ts is not None:
            try:
                await self._client.chat_stopStream(
                    channel=self._thread.channel_id,
                    ts=self._ts,
                    chunks=[markdown_chunk(failure_line)] if failure_line else None,
                    blocks=blocks or None,
                )
                await self.status("")
                await self._statuses_sent()
                return
            except SlackApiError as exc:
                log.info("chat.stopStream refused (%s); updating the message instead", exc.response.get("error"))
                self._streaming = False
        await self._render(blocks)
        await self.status("")
        await self._statuses_sent()

    async def _flush(self) -> None:
        if not self._pending:
            return
        piece = escape(self._pending)
        self._pending = ""
        self._text += piece
        if self._streaming:
            pieces = [piece[i : i + STREAM_TEXT_LIMIT] for i in range(0, len(piece), STREAM_TEXT_LIMIT)]
            for part in pieces:
                if not await self._stream([markdown_chunk(part)]):
                    break
            else:
                return
        await self._render()

    async def _stream(self, chunks: list[dict[str, Any]]) -> bool:
        """Send chunks through the stream (started on first use; a full message continues in a new one).

        Always chunks, never `markdown_text`: a stream keeps the mode it was opened in. False when Slack refused,
        so the caller renders the reply as an ordinary message instead."""
        size = sum(len(c.get("text", "")) for c in chunks)
        try:
            if self._ts is not None and self._streamed_chars + size > STREAM_TEXT_LIMIT:
                await self._client.chat_stopStream(channel=self._thread.channel_id, ts=self._ts)
                self._ts, self._streamed_chars = None, 0
            if self._ts is None:
                response = await self._client.chat_startStream(
                    channel=self._thread.channel_id,
                    thread_ts=self._thread.thread_ts,
                    recipient_user_id=self._owner.user_id,
                    recipient_team_id=self._owner.team_id,
                    chunks=chunks,
                )
                self._ts = response["ts"]
            else:
                await self._client.chat_appendStream(channel=self._thread.channel_id, ts=self._ts, chunks=chunks)
            self._streamed_chars += size
            return True
        except SlackApiError as exc:
            if exc.response.get("error") == "stopped_by_user":
                self._stopped = True  # the person stopped it: nothing more is written
                return True
            log.info("streaming refused (%s); posting the answer instead", exc.response.get("error"))
            self._streaming = False
            return False

    async def _render(self, blocks: list[dict[str, Any]] | None = None) -> None:
        """The whole reply so far as one ordinary message (posted once, then updated)."""
        lines = [step_line(step) for step in self._steps.values()]
        body = self._text.strip() or ("…" if not lines else "")
        text = truncate("\n".join([*lines, body]).strip(), MESSAGE_TEXT_LIMIT, "\n…[cut: too long for Slack]")
        extra: dict[str, Any] = {"blocks": answer_sections(text) + blocks} if blocks else {}
        try:
            if self._ts is None:
                response = await self._client.chat_postMessage(
                    channel=self._thread.channel_id,
                    thread_ts=self._thread.thread_ts,
                    text=text,
                    unfurl_links=False,
                    unfurl_media=False,
                    **extra,
                )
                self._ts = response["ts"]
            else:
                await self._client.chat_update(channel=self._thread.channel_id, ts=self._ts, text=text, **extra)
        except SlackApiError as exc:  # the answer cannot be shown: log it, the person sees the status time out
            log.warning("could not post the assistant's answer: %s", exc.response.get("error"))


async def set_thread_status(client: AsyncWebClient, thread: ThreadRef, text: str) -> None:
    """`assistant.threads.setStatus` ("" clears it). A status is a courtesy, never a reason to fail a turn."""
    try:
        await client.assistant_threads_setStatus(channel_id=thread.channel_id, thread_ts=thread.thread_ts, status=text)
    except Exception as exc:  # boundary: see above
        log.debug("setStatus failed: %s", type(exc).__name__)
