"""An assistant reply written into a thread, against the fake Slack's streaming rules: long answers continue in a
new message, a reply the person stopped is not written to any more, and steps show as task updates."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.assistant import Step, ThreadRef
from app.domain.owner import Owner
from app.slack.turn_stream import SlackTurnView
from tests.support import slack_payloads as payloads
from tests.support.fake_slack import FakeSlack

pytestmark = pytest.mark.anyio

ANN = Owner(team_id=payloads.TEAM_ID, user_id=payloads.USER_ID)


def view_on(slack: FakeSlack, thread: ThreadRef, *, first_reply: bool = False) -> SlackTurnView:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    return SlackTurnView(client, ANN, thread, first_reply=first_reply)


async def test_an_answer_longer_than_one_streamed_message_continues_in_the_next() -> None:
    async with FakeSlack() as slack:
        thread = ThreadRef(payloads.dm_channel_id(ANN.user_id), "1700000000.000001")
        view = view_on(slack, thread)
        answer = "".join(f"line {i:05d} of a long answer\n" for i in range(1200))  # ~33,600 characters
        for start in range(0, len(answer), 500):
            await view.text(answer[start : start + 500])
        await view.finish()
        replies = slack.thread_messages(thread.channel_id, thread.thread_ts)
        assert len(replies) >= 3 and all(len(r["text"]) <= 12_000 for r in replies)
        assert "".join(r["text"] for r in replies) == answer
        assert all(r["stream_state"] == "stopped" for r in replies)
        assert slack.problems == []


async def test_a_reply_the_person_stopped_is_not_written_to_any_more() -> None:
    async with FakeSlack() as slack:
        thread = ThreadRef(payloads.dm_channel_id(ANN.user_id), "1700000000.000002")
        view = view_on(slack, thread)
        await view.text("x" * 300)  # past the buffer: the stream starts
        [reply] = slack.thread_messages(
            thread.channel_id,
            thread.thread_ts,
        )
        slack.stop_stream_by_user(thread.channel_id, reply["ts"])
        await view.text("y" * 300)
        assert view.stopped
        await view.text("z" * 300)
        await view.step(Step("call_1", "tiny__echo", "running"))
        await view.finish()
        [after] = slack.thread_messages(thread.channel_id, thread.thread_ts)
        assert "y" not in after["text"] and "z" not in after["text"]
        assert slack.problems == []


async def test_tool_steps_show_as_task_updates_with_how_long_they_took_and_any_cut() -> None:
    async with FakeSlack() as slack:
        thread = ThreadRef(payloads.dm_channel_id(ANN.user_id), "1700000000.000003")
        view = view_on(slack, thread, first_reply=True)
        await view.step(Step("call_1", "github__search_issues", "running"))
        await view.step(Step("call_1", "github__search_issues", "done", duration_ms=1234, truncated_chars=5000))
        await view.text("Found 3 issues.")
        await view.finish()
        [reply] = slack.thread_messages(thread.channel_id, thread.thread_ts)
        task = slack.stream_tasks(thread.channel_id, reply["ts"])["call_1"]
        assert task["status"] == "complete" and "done in 1.2 s" in task["details"] and "5,000" in task["details"]
        assert "Tools in this thread" in str(reply["blocks"])
        assert slack.problems == []
