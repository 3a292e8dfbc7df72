"""Messages to the assistant: DMs (the Messages tab) and @mentions in channels, answered in a thread.

Bolt acks events before these run. Ignored: edits, deletions, joins, other bots and the app's own messages, empty
text; a retried delivery (same `event_id`) is answered once.
"""

from __future__ import annotations

import logging
import re

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.assistant import ThreadRef
from app.domain.errors import AssistantBusy, PlugboardError
from app.services.assistant_service import NOT_CONFIGURED, AssistantService
from app.slack.blocks.assistant import SUGGESTED_PROMPTS
from app.slack.edge import Event, slack_event

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
FILES_NOT_SUPPORTED = "I can't read attached files yet; paste the text into your message instead."
CHANNELS_OFF = "The assistant is turned off in channels in this workspace. Send me a direct message instead."


class AssistantEvents:
    def __init__(self, assistant: AssistantService) -> None:
        self._assistant = assistant

    @slack_event
    async def direct_message(self, ev: Event) -> None:
        if ev.event.get("channel_type") != "im" or not _from_a_person(ev):
            return
        await self._answer(ev, _text(ev))

    @slack_event
    async def mention(self, ev: Event) -> None:
        if not _from_a_person(ev):
            return
        if not self._assistant.answers_in_channels:
            if await self._assistant.first_delivery(ev.event_id):
                await _say(ev.client, _thread(ev), CHANNELS_OFF)
            return
        await self._answer(ev, _MENTION.sub("", _text(ev)).strip())

    @slack_event
    async def messages_tab_opened(self, ev: Event) -> None:
        """The Messages tab opened: offer a few prompts (agent apps pass no thread_ts, see assistant.md §6)."""
        if not self._assistant.configured or not ev.event.get("channel"):
            return
        try:
            await ev.client.assistant_threads_setSuggestedPrompts(
                channel_id=ev.event["channel"], prompts=SUGGESTED_PROMPTS
            )
        except SlackApiError as exc:
            log.debug("setSuggestedPrompts refused: %s", exc.response.get("error"))

    async def _answer(self, ev: Event, text: str) -> None:
        thread = _thread(ev)
        if ev.event.get("files") or ev.event.get("subtype") == "file_share" or not self._assistant.configured:
            if await self._assistant.first_delivery(ev.event_id):
                await _say(ev.client, thread, NOT_CONFIGURED if not self._assistant.configured else FILES_NOT_SUPPORTED)
            return
        if not text:
            return
        try:
            await self._assistant.take(ev.owner, thread, text, ev.event_id)  # dedupes (Slack retries) itself
        except AssistantBusy as exc:
            await _say(ev.client, thread, f":hourglass: {exc}")
        except PlugboardError as exc:
            await _say(ev.client, thread, f":x: {exc}")


def _from_a_person(ev: Event) -> bool:
    """A person's new message: not an edit, deletion, join or bot (ours included)."""
    return ev.event.get("subtype") in (None, "file_share") and not ev.event.get("bot_id")


def _text(ev: Event) -> str:
    return str(ev.event.get("text") or "").strip()


def _thread(ev: Event) -> ThreadRef:
    return ThreadRef(str(ev.event["channel"]), str(ev.event.get("thread_ts") or ev.event["ts"]))


async def _say(client: AsyncWebClient, thread: ThreadRef, text: str) -> None:
    try:  # our own words, safe to show as they are
        await client.chat_postMessage(channel=thread.channel_id, thread_ts=thread.thread_ts, text=text)
    except SlackApiError as exc:
        log.warning("could not answer in the thread: %s", exc.response.get("error"))
