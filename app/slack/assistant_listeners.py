"""Wire the assistant's listeners onto the Bolt app: messages, mentions, the Messages tab, thread buttons."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from app.services.assistant_service import AssistantService
from app.slack import ids
from app.slack.assistant_actions import AssistantActions
from app.slack.assistant_events import AssistantEvents


def register_assistant(app: AsyncApp, assistant: AssistantService) -> None:
    """Register before the other event listeners: Bolt runs only the first listener that matches an event, and the
    Messages tab's `app_home_opened` is ours (the Home tab's goes on to the App Home listener)."""
    events = AssistantEvents(assistant)
    actions = AssistantActions(assistant)
    app.event("app_home_opened", matchers=[_messages_tab])(events.messages_tab_opened)
    app.event("message")(events.direct_message)
    app.event("app_mention")(events.mention)
    app.action(ids.APPROVE_CALL_ONCE)(actions.approve_once)
    app.action(ids.APPROVE_CALL_ALWAYS)(actions.approve_always)
    app.action(ids.DENY_CALL)(actions.deny)
    app.action(ids.RETRY_TURN)(actions.retry)
    app.action(ids.THREAD_TOOLS)(actions.open_thread_tools)
    app.view(ids.THREAD_TOOLS_MODAL)(actions.thread_tools_submitted)


async def _messages_tab(event: dict[str, Any]) -> bool:
    return event.get("tab") == "messages"
