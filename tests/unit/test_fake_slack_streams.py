"""FakeSlack's agent surfaces keep Slack's rules (chat.*Stream, assistant.threads.*), driven with slack_sdk and Bolt."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp, AsyncSayStream, AsyncSetStatus
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.messages.chunk import MarkdownTextChunk, TaskUpdateChunk
from slack_sdk.web.async_client import AsyncWebClient

from tests.support import slack_payloads as sp
from tests.support.fake_slack import FakeSlack
from tests.support.waiting import wait_until
from tests.unit.fakes import FakeClock

pytestmark = pytest.mark.anyio

SECRET = "test-signing-secret"
DM = sp.dm_channel_id(sp.USER_ID)
CHANNEL = sp.CHANNEL_ID
QUESTION_TS = "1700000000.000100"


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    # team_id: Bolt's per-request client adds it to every call; the fake must take it.
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, team_id=sp.TEAM_ID)


async def refused(call: Any) -> str:
    with pytest.raises(SlackApiError) as raised:
        await call
    return str(raised.value.response["error"])


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# --- a stream that follows the rules ----------------------------------------------------------------------------


async def test_a_streamed_answer_is_one_message_in_the_thread_with_all_its_text_tasks_and_blocks(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    stream = await client.chat_stream(channel=DM, thread_ts=QUESTION_TS, buffer_size=4)
    await stream.append(markdown_text="Found ")
    await stream.append(chunks=[TaskUpdateChunk(id="call-1", title="github__search", status="in_progress")])
    assert slack.is_streaming(DM, str(stream.ts))
    await stream.append(markdown_text="3 issues.")
    await stream.stop(
        chunks=[TaskUpdateChunk(id="call-1", title="github__search", status="complete", output="3 results")],
        blocks=[section("Was this helpful?")],
    )

    [answer] = slack.thread_messages(DM, QUESTION_TS)
    assert answer["text"] == "Found 3 issues."
    assert answer["ts"] == stream.ts and answer["user"] == slack.bot_user_id
    assert answer["blocks"][0]["text"]["text"] == "Was this helpful?"
    assert slack.stream_tasks(DM, answer["ts"]) == {
        "call-1": {
            "type": "task_update",
            "id": "call-1",
            "title": "github__search",
            "status": "complete",
            "output": "3 results",
        }
    }
    assert not slack.is_streaming(DM, answer["ts"])
    assert slack.problems == []


async def test_waiting_for_the_reply_returns_it_only_once_the_stream_is_final(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    started = await client.chat_startStream(channel=DM, thread_ts=QUESTION_TS, markdown_text="Working")
    waiting = asyncio.create_task(slack.wait_for_thread_reply(DM, QUESTION_TS, timeout=5.0))
    await client.chat_appendStream(channel=DM, ts=started["ts"], markdown_text=" on it")
    assert not waiting.done()
    await client.chat_stopStream(channel=DM, ts=started["ts"])
    reply = await waiting
    assert reply["text"] == "Working on it"


async def test_a_channel_stream_with_recipients_is_accepted(slack: FakeSlack, client: AsyncWebClient) -> None:
    response = await client.chat_startStream(
        channel=CHANNEL,
        thread_ts=QUESTION_TS,
        recipient_user_id=sp.USER_ID,
        recipient_team_id=sp.TEAM_ID,
        chunks=[MarkdownTextChunk(text="Hello")],
    )
    assert response["ts"]
    [reply] = slack.thread_messages(CHANNEL, QUESTION_TS)
    assert reply["recipient_user_id"] == sp.USER_ID and reply["text"] == "Hello"


# --- what Slack refuses -------------------------------------------------------------------------------------------


async def test_a_stream_that_is_not_a_reply_in_a_thread_is_refused(slack: FakeSlack, client: AsyncWebClient) -> None:
    # slack_sdk's chat_startStream insists on thread_ts, so go around it as other clients can.
    no_thread = client.api_call("chat.startStream", json={"channel": DM, "markdown_text": "hi"})
    assert await refused(no_thread) == "invalid_arguments"
    assert any("thread_ts" in p for p in slack.problems)
    assert slack.messages == []


@pytest.mark.parametrize(
    ("recipients", "error"),
    [
        ({}, "missing_recipient_user_id"),
        ({"recipient_user_id": sp.USER_ID}, "missing_recipient_team_id"),
        ({"recipient_team_id": sp.TEAM_ID}, "missing_recipient_user_id"),
    ],
)
async def test_a_channel_stream_without_both_recipients_is_refused(
    slack: FakeSlack, client: AsyncWebClient, recipients: dict[str, Any], error: str
) -> None:
    call = client.chat_startStream(channel=CHANNEL, thread_ts=QUESTION_TS, markdown_text="hi", **recipients)
    assert await refused(call) == error
    assert slack.problems and slack.messages == []


async def test_appending_to_a_stopped_or_unknown_stream_is_refused(slack: FakeSlack, client: AsyncWebClient) -> None:
    ts = (await client.chat_startStream(channel=DM, thread_ts=QUESTION_TS, markdown_text="a"))["ts"]
    await client.chat_stopStream(channel=DM, ts=ts)
    after_stop = await refused(client.chat_appendStream(channel=DM, ts=ts, markdown_text="b"))
    unknown = await refused(client.chat_appendStream(channel=DM, ts="1700000000.999999", markdown_text="b"))
    stop_twice = await refused(client.chat_stopStream(channel=DM, ts=ts))
    assert after_stop == unknown == stop_twice == "message_not_in_streaming_state"
    assert slack.thread_messages(DM, QUESTION_TS)[0]["text"] == "a"


async def test_appending_to_a_persons_message_is_refused_as_not_the_apps(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    question = sp.direct_message("hi", user_id=sp.USER_ID, channel=DM)
    slack.record_user_message(question)
    error = await refused(client.chat_appendStream(channel=DM, ts=question["ts"], markdown_text="x"))
    assert error == "message_not_owned_by_app"


async def test_a_reply_the_person_stopped_refuses_further_appends(slack: FakeSlack, client: AsyncWebClient) -> None:
    ts = (await client.chat_startStream(channel=DM, thread_ts=QUESTION_TS, markdown_text="a"))["ts"]
    slack.stop_stream_by_user(DM, ts)
    assert await refused(client.chat_appendStream(channel=DM, ts=ts, markdown_text="b")) == "stopped_by_user"
    assert slack.problems == []  # the person's choice, not the app's mistake


async def test_an_expired_stream_refuses_appends_and_can_still_be_edited_with_chat_update(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    ts = (await client.chat_startStream(channel=DM, thread_ts=QUESTION_TS, markdown_text="Half an ans"))["ts"]
    slack.expire_stream(DM, ts)
    error = await refused(client.chat_appendStream(channel=DM, ts=ts, markdown_text="wer"))
    assert error == "message_not_in_streaming_state"
    await client.chat_update(channel=DM, ts=ts, text="Half an answer, finished by chat.update")
    reply = await slack.wait_for_thread_reply(DM, QUESTION_TS, timeout=1.0)
    assert reply["text"] == "Half an answer, finished by chat.update"
    assert slack.problems == []


async def test_markdown_over_12000_characters_is_refused_per_call_and_per_message(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    too_long = client.chat_startStream(channel=DM, thread_ts=QUESTION_TS, markdown_text="x" * 12_001)
    assert await refused(too_long) == "msg_too_long"
    ts = (await client.chat_startStream(channel=DM, thread_ts=QUESTION_TS, markdown_text="x" * 12_000))["ts"]
    assert await refused(client.chat_appendStream(channel=DM, ts=ts, markdown_text="y")) == "msg_too_long"
    assert len(slack.problems) == 2


@pytest.mark.parametrize(
    "chunk",
    [
        {"type": "markdown", "text": "hi"},
        {"type": "task_update", "id": "t1", "title": "x", "status": "done"},
        {"type": "task_update", "title": "no id", "status": "complete"},
        {"type": "plan_update"},
        {"type": "task_update", "id": "t1", "title": "x", "status": "complete", "sources": [{"url": "u"}]},
    ],
)
async def test_a_malformed_chunk_is_refused(slack: FakeSlack, client: AsyncWebClient, chunk: dict[str, Any]) -> None:
    call = client.chat_startStream(channel=DM, thread_ts=QUESTION_TS, chunks=[chunk])
    assert await refused(call) == "invalid_chunks"
    assert slack.problems


async def test_markdown_text_and_chunks_cannot_share_a_request_or_a_stream(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    both = client.chat_startStream(
        channel=DM, thread_ts=QUESTION_TS, markdown_text="a", chunks=[{"type": "markdown_text", "text": "b"}]
    )
    assert await refused(both) == "cannot_provide_both_markdown_text_and_chunks"
    ts = (await client.chat_startStream(channel=DM, thread_ts=QUESTION_TS, markdown_text="a"))["ts"]
    switch = client.chat_appendStream(channel=DM, ts=ts, chunks=[{"type": "markdown_text", "text": "b"}])
    assert await refused(switch) == "streaming_mode_mismatch"


async def test_blocks_given_at_stop_are_checked_like_a_messages(slack: FakeSlack, client: AsyncWebClient) -> None:
    ts = (await client.chat_startStream(channel=DM, thread_ts=QUESTION_TS, markdown_text="a"))["ts"]
    bad = [{"type": "section", "text": "a bare string where Slack needs a text object"}]
    assert await refused(client.chat_stopStream(channel=DM, ts=ts, blocks=bad)) == "invalid_blocks"
    many = [section(f"line {i}") for i in range(51)]
    assert await refused(client.chat_stopStream(channel=DM, ts=ts, blocks=many)) == "msg_blocks_too_many"
    assert slack.is_streaming(DM, ts)  # a refused stop leaves the stream open
    await client.chat_stopStream(channel=DM, ts=ts, blocks=[section("ok")])
    assert not slack.is_streaming(DM, ts)


async def test_with_streaming_refused_the_post_and_update_fallback_still_answers_in_the_thread(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.streaming_enabled = False
    assert await refused(client.chat_startStream(channel=DM, thread_ts=QUESTION_TS)) == "messages_tab_disabled"
    assert slack.problems == []  # a workspace setting, not an app bug
    posted = await client.chat_postMessage(channel=DM, thread_ts=QUESTION_TS, text="Working…")
    await client.chat_update(channel=DM, ts=posted["ts"], text="Found 3 issues.")
    reply = await slack.wait_for_thread_reply(DM, QUESTION_TS, lambda m: "Found" in m["text"], timeout=1.0)
    assert reply["ts"] == posted["ts"] and reply["thread_ts"] == QUESTION_TS


async def test_tier_2_rate_limit_answers_429_with_retry_after_until_the_minute_is_over(
    slack: FakeSlack, client: AsyncWebClient, clock: FakeClock
) -> None:
    slack.rate_limit("chat.startStream", per_minute=1, retry_after=7)
    await client.chat_startStream(channel=DM, thread_ts=QUESTION_TS)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_startStream(channel=DM, thread_ts=QUESTION_TS)
    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert raised.value.response.headers["Retry-After"] in ("7", ["7"])
    clock.now += 60
    await client.chat_startStream(channel=DM, thread_ts=QUESTION_TS)
    assert [c.status for c in slack.calls_to("chat.startStream")] == [200, 429, 200]


async def test_rate_limit_next_refuses_exactly_the_next_calls(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.rate_limit_next("chat.startStream", times=1, retry_after=0)
    assert await refused(client.chat_startStream(channel=DM, thread_ts=QUESTION_TS)) == "ratelimited"
    assert (await client.chat_startStream(channel=DM, thread_ts=QUESTION_TS))["ok"]


# --- assistant.threads.* ----------------------------------------------------------------------------------------


async def test_statuses_are_recorded_in_order_and_an_empty_one_clears(slack: FakeSlack, client: AsyncWebClient) -> None:
    await client.assistant_threads_setStatus(channel_id=DM, thread_ts=QUESTION_TS, status="is thinking…")
    await client.assistant_threads_setStatus(
        channel_id=DM, thread_ts=QUESTION_TS, status="Calling github__search…", loading_messages=["Looking…"]
    )
    await client.assistant_threads_setStatus(channel_id=DM, thread_ts=QUESTION_TS, status="")
    assert slack.statuses(DM, QUESTION_TS) == ["is thinking…", "Calling github__search…", ""]
    assert slack.status_updates[1].loading_messages == ["Looking…"]


async def test_a_status_with_bad_loading_messages_or_thread_is_refused(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    long_messages = client.assistant_threads_setStatus(
        channel_id=DM, thread_ts=QUESTION_TS, status="x", loading_messages=["y" * 51]
    )
    too_many = client.assistant_threads_setStatus(
        channel_id=DM, thread_ts=QUESTION_TS, status="x", loading_messages=["y"] * 11
    )
    assert await refused(long_messages) == await refused(too_many) == "invalid_arguments"
    assert await refused(client.assistant_threads_setStatus(channel_id=DM, thread_ts="soon", status="x")) == (
        "invalid_thread_ts"
    )
    assert slack.statuses(DM, QUESTION_TS) == []


async def test_suggested_prompts_are_recorded_but_flagged_when_given_a_thread(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    prompts = [{"title": "My tools", "message": "What tools can you use?"}]
    await client.assistant_threads_setSuggestedPrompts(channel_id=DM, prompts=prompts)
    assert [p.prompts for p in slack.suggested_prompts] == [prompts]
    assert slack.problems == []
    await client.assistant_threads_setSuggestedPrompts(channel_id=DM, thread_ts=QUESTION_TS, prompts=prompts)
    assert len(slack.suggested_prompts) == 1  # "silently fails" for an agent_view app
    assert any("thread_ts" in p for p in slack.problems)


async def test_more_than_four_suggested_prompts_are_refused(slack: FakeSlack, client: AsyncWebClient) -> None:
    prompts = [{"title": f"t{i}", "message": f"m{i}"} for i in range(5)]
    assert await refused(client.assistant_threads_setSuggestedPrompts(channel_id=DM, prompts=prompts)) == (
        "invalid_arguments"
    )


# --- Bolt's own helpers against the fake, fed by the payload builders -------------------------------------------


def bolt_app(slack: FakeSlack) -> AsyncApp:
    return AsyncApp(client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url), signing_secret=SECRET)


async def dispatch(app: AsyncApp, body: str, headers: dict[str, str] | None = None) -> Any:
    return await app.async_dispatch(AsyncBoltRequest(body=body, headers={**sp.sign(body, SECRET), **(headers or {})}))


async def test_bolts_say_stream_answers_a_mention_in_its_thread_with_recipients_filled_in(slack: FakeSlack) -> None:
    app = bolt_app(slack)
    done = asyncio.Event()

    @app.event("app_mention")
    async def mentioned(event: dict[str, Any], say_stream: AsyncSayStream, set_status: AsyncSetStatus) -> None:
        await set_status("is thinking…")
        stream = await say_stream()
        await stream.append(markdown_text=f"You asked: {event['text'].split('> ', 1)[1]}")
        await stream.stop()
        done.set()

    event = sp.app_mention("what tools?", user_id=sp.USER_ID)
    assert event["text"] == f"<@{sp.BOT_USER_ID}> what tools?"
    response = await dispatch(app, sp.event_callback(event, team_id=sp.TEAM_ID))
    assert response.status == 200
    await asyncio.wait_for(done.wait(), timeout=5.0)
    reply = await slack.wait_for_thread_reply(CHANNEL, event["ts"], timeout=1.0)
    assert reply["text"] == "You asked: what tools?"
    assert (reply["recipient_user_id"], reply["recipient_team_id"]) == (sp.USER_ID, sp.TEAM_ID)
    assert slack.statuses(CHANNEL, event["ts"]) == ["is thinking…"]
    assert slack.problems == []


async def test_message_builders_give_bolt_the_subtypes_and_retry_headers_it_will_see(slack: FakeSlack) -> None:
    app = bolt_app(slack)
    seen: list[tuple[str | None, str | None, list[str] | None]] = []

    @app.event("message")
    async def message(event: dict[str, Any], body: dict[str, Any], request: Any) -> None:
        seen.append((event.get("subtype"), event.get("bot_id"), request.headers.get("x-slack-retry-num")))

    first = sp.direct_message("hi", user_id=sp.USER_ID, channel=DM)
    events = [
        first,
        sp.message_changed("hi!", user_id=sp.USER_ID, channel=DM, ts=first["ts"], old_text="hi"),
        sp.message_deleted(user_id=sp.USER_ID, channel=DM, ts=first["ts"]),
        sp.channel_join(user_id=sp.USER_ID),
        sp.bot_message("beep", channel=DM),
        sp.bot_message("beep", channel=DM, legacy=True),
        sp.file_share_message("see file", user_id=sp.USER_ID, channel=DM),
        sp.own_message("my own answer", channel=DM),  # dropped by Bolt's IgnoringSelfEvents
    ]
    bodies = [sp.event_callback(e, team_id=sp.TEAM_ID) for e in events]
    assert len({json.loads(b)["event_id"] for b in bodies}) == len(bodies)
    for body in bodies:
        assert (await dispatch(app, body)).status == 200
    assert (await dispatch(app, bodies[0], sp.retry_headers(2, "http_timeout"))).status == 200

    await wait_until(lambda: len(seen) == 8, timeout=5.0, what="Bolt's message listener to see every event")
    assert sorted(seen, key=repr) == sorted(
        [
            (None, None, None),
            ("message_changed", None, None),
            ("message_deleted", None, None),
            ("channel_join", None, None),
            (None, sp.OTHER_BOT_ID, None),
            ("bot_message", sp.OTHER_BOT_ID, None),
            ("file_share", None, None),
            (None, None, ["2"]),
        ],
        key=repr,
    )
