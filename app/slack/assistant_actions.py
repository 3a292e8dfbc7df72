"""Buttons in an assistant thread: Allow once / Always allow / Deny, Retry, and "Tools in this thread".

A refusal (someone else's approval, one already answered) is told to the clicker alone, as an ephemeral message in
the thread: answering through response_url would replace the shared message for everyone.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from app.domain.assistant import ThreadRef
from app.domain.errors import AssistantBusy, PlugboardError
from app.services.assistant_service import AssistantService, Choice
from app.slack import ids
from app.slack.blocks.assistant import thread_tools_modal
from app.slack.edge import Request, slack_handler

log = logging.getLogger(__name__)


class AssistantActions:
    def __init__(self, assistant: AssistantService) -> None:
        self._assistant = assistant

    @slack_handler
    async def approve_once(self, req: Request) -> None:
        await self._decide(req, "once")

    @slack_handler
    async def approve_always(self, req: Request) -> None:
        await self._decide(req, "always")

    @slack_handler
    async def deny(self, req: Request) -> None:
        await self._decide(req, "deny")

    @slack_handler
    async def retry(self, req: Request) -> None:
        await req.ack()
        thread = _thread_from_value(req.value)
        if thread is None:
            return
        try:
            await self._assistant.retry(req.owner, thread)  # the clicker's own conversation in that thread
        except AssistantBusy as exc:
            await _tell(req, f":hourglass: {exc}")
        except PlugboardError as exc:
            await _tell(req, f":x: {exc}")

    @slack_handler
    async def open_thread_tools(self, req: Request) -> None:
        await req.ack()
        thread = _thread_from_value(req.value)
        if thread is None:
            return
        servers, selected = await self._assistant.thread_servers(req.owner, thread)
        metadata = {"channel": thread.channel_id, "thread_ts": thread.thread_ts}
        await req.client.views_open(
            trigger_id=req.body["trigger_id"], view=thread_tools_modal(servers, selected, metadata)
        )

    @slack_handler
    async def thread_tools_submitted(self, req: Request) -> None:
        await req.ack()
        metadata = req.metadata
        if not metadata.get("channel") or not metadata.get("thread_ts"):
            return
        thread = ThreadRef(metadata["channel"], metadata["thread_ts"])
        state = ((req.view.get("state") or {}).get("values") or {}).get(ids.THREAD_SERVERS, {})
        chosen = (state.get(ids.VALUE) or {}).get("selected_options") or []
        known, _ = await self._assistant.thread_servers(req.owner, thread)  # only the submitter's own servers
        servers = tuple(o["value"] for o in chosen if o.get("value") in known)
        await self._assistant.choose_servers(req.owner, thread, None if set(servers) == set(known) else servers)

    async def _decide(self, req: Request, choice: Choice) -> None:
        await req.ack()
        clicked_ts = (req.body.get("container") or {}).get("message_ts")
        try:
            await self._assistant.decide(req.owner, req.value, choice, clicked_ts=clicked_ts)
        except PlugboardError as exc:
            await _tell(req, str(exc))


def _thread_from_value(value: str) -> ThreadRef | None:
    channel, _, thread_ts = value.partition("|")
    return ThreadRef(channel, thread_ts) if channel and thread_ts else None


async def _tell(req: Request, text: str) -> None:
    """An ephemeral line for the clicker only, in the conversation where they clicked."""
    body: dict[str, Any] = req.body
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    thread_ts = (body.get("message") or {}).get("thread_ts") or (body.get("container") or {}).get("thread_ts")
    if not channel:
        return
    try:
        await req.client.chat_postEphemeral(
            channel=channel, user=req.owner.user_id, text=text, **({"thread_ts": thread_ts} if thread_ts else {})
        )
    except SlackApiError as exc:
        log.info("could not tell the clicker: %s", exc.response.get("error"))
