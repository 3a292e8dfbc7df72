"""The Plugboard assistant end to end: signed Slack events into the real app, a fake OpenAI-compatible model over
real HTTP, real MCP servers, the fake Slack enforcing its streaming rules."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from app.agent.models import SDK_MAX_RETRIES
from app.domain.owner import Owner
from app.slack import ids
from tests.servers import PYTHON, server_path
from tests.support import slack_payloads as payloads
from tests.support.fake_model import Call, FakeModel, Hang, HttpError, Reply, ToolCalls
from tests.support.fake_slack import FakeSlack
from tests.support.flows import add_ready_server, allow_with_confirmation
from tests.support.harness import Harness, SlackUser, policy_toml

pytestmark = pytest.mark.anyio

TINY = {"command": PYTHON, "args": [server_path("tiny_server"), "--tools", "echo,add"]}
LLM_KEY = "sk-test-assistant-key-0123456789abcdef"


def llm_settings(model: FakeModel, **extra: Any) -> dict[str, Any]:
    return {
        "plugboard_llm_provider": "openai",
        "plugboard_llm_model": "gpt-4o-mini",
        "plugboard_llm_api_key": SecretStr(LLM_KEY),
        "plugboard_llm_base_url": model.base_url,
        "plugboard_llm_timeout": 10.0,
        **extra,
    }


@asynccontextmanager
async def assistant_app(tmp_path: Path, **extra: Any) -> AsyncIterator[tuple[Harness, FakeModel]]:
    async with FakeModel() as model, Harness.running(tmp_path / "app", **llm_settings(model, **extra)) as harness:
        yield harness, model


async def final_reply(user: SlackUser, sent: Any, predicate: Any = None, timeout: float = 30.0) -> dict[str, Any]:
    return await user.slack.wait_for_thread_reply(sent.channel, sent.ts, predicate, timeout=timeout)


async def test_a_dm_without_a_configured_model_gets_one_line_saying_so_and_pointing_to_mcp_run(
    harness: Harness,
) -> None:
    alice = harness.user()
    sent = await alice.say("hello?")
    reply = await final_reply(alice, sent)
    assert "not set up" in reply["text"] and "/mcp run" in reply["text"], reply["text"]
    assert len(harness.slack.thread_messages(sent.channel, sent.ts)) == 1


async def test_a_dm_calls_the_askers_tool_and_streams_the_answer_into_the_thread(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        await add_ready_server(alice, "tiny", TINY)
        model.script(ToolCalls(Call("tiny__echo", {"message": "ping"})), Reply("The server answered ping."))

        sent = await alice.say("please echo ping")
        reply = await final_reply(alice, sent)

        assert "The server answered ping." in reply["text"]
        first, second = model.requests
        assert "tiny__echo" in first.tool_names and "tiny__add" in first.tool_names
        assert first.authorization == f"Bearer {LLM_KEY}"
        assert "ping" in second.tool_results[0]["content"]
        tasks = harness.slack.stream_tasks(sent.channel, reply["ts"])
        assert [t["title"] for t in tasks.values()] == ["tiny__echo"]
        assert next(iter(tasks.values()))["status"] == "complete"
        assert any(s.startswith("Calling tiny__echo") for s in harness.slack.statuses(sent.channel, sent.ts))
        audit = await harness.app.db.fetch_all("SELECT detail_json FROM audit_log WHERE action = 'tool_call'")
        details = [json.loads(row[0]) for row in audit]
        assert details[-1]["via"] == "assistant" and sent.channel in details[-1]["link"]


async def test_a_follow_up_in_the_thread_continues_the_conversation(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        model.script(Reply("Nice to meet you, Ann."), Reply("You are Ann."))
        sent = await alice.say("my name is Ann")
        await final_reply(alice, sent)
        await alice.say("who am I?", channel=sent.channel, thread_ts=sent.ts)
        await final_reply(alice, sent, lambda m: "You are Ann." in m["text"])
        follow_up = model.requests[1]
        assert "my name is Ann" in follow_up.user_texts and "Nice to meet you, Ann." in json.dumps(follow_up.messages)


async def test_a_slack_retry_of_the_same_event_is_answered_once(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        model.script(Reply("Once."))
        sent = await alice.say("hi")
        await final_reply(alice, sent)
        response = await harness.post(sent.body, content_type="application/json", headers=payloads.retry_headers())
        assert response.status_code == 200
        assert len(model.requests) == 1
        assert len(harness.slack.thread_messages(sent.channel, sent.ts)) == 1


async def test_edits_deletions_and_bot_messages_are_ignored(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        channel = payloads.dm_channel_id(alice.user_id)
        earlier = payloads.direct_message("typo", user_id=alice.user_id, channel=channel)
        for event in (
            payloads.message_changed("fixed typo", user_id=alice.user_id, channel=channel, ts=earlier["ts"]),
            payloads.message_deleted(user_id=alice.user_id, channel=channel, ts=earlier["ts"]),
            payloads.bot_message("from another bot", channel=channel),
            payloads.own_message("my own earlier answer", channel=channel),
        ):
            await alice.send_event(event)
        sent = await alice.say("the only real one")
        model.script(Reply("Only this."))
        await final_reply(alice, sent)
        assert len(model.requests) == 1


async def test_a_model_server_error_shows_a_clear_line_with_a_retry_button_that_works(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        attempts = SDK_MAX_RETRIES + 1  # the provider SDK retries a 500 itself before giving up
        model.script(*[HttpError(500, "upstream exploded")] * attempts, Reply("Second time lucky."))
        sent = await alice.say("hello")
        failed = await final_reply(alice, sent)
        assert ":warning:" in failed["text"] and "Traceback" not in failed["text"]
        assert LLM_KEY not in json.dumps(harness.slack.messages)
        await alice.click_in_thread(failed, "assistant_retry")
        await final_reply(alice, sent, lambda m: "Second time lucky." in m["text"])


async def test_a_server_disabled_mid_thread_is_gone_from_the_next_requests_tools(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        await add_ready_server(alice, "tiny", TINY)
        model.script(Reply("I see your tools."), Reply("No tools now."))
        sent = await alice.say("what can you do?")
        await final_reply(alice, sent)
        assert "tiny__echo" in model.requests[0].tool_names

        await alice.command("disable tiny")
        await alice.reply()
        await alice.say("and now?", channel=sent.channel, thread_ts=sent.ts)
        await final_reply(alice, sent, lambda m: "No tools now." in m["text"])
        assert "tiny__echo" not in model.requests[1].tool_names


async def test_two_people_in_one_channel_thread_each_get_only_their_own_tools(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice, bob = harness.user("UALICE01"), harness.user("UBOB0001")
        await add_ready_server(alice, "tiny", TINY)
        model.script(Reply("Alice's answer."), Reply("Bob's answer."))
        sent = await alice.mention("what tools do I have?")
        await final_reply(alice, sent)
        await bob.mention("and me?", thread_ts=sent.ts)
        await final_reply(bob, sent, lambda m: "Bob's answer." in m["text"])
        alice_request, bob_request = model.requests
        assert "tiny__echo" in alice_request.tool_names
        assert bob_request.tool_names == []
        assert "what tools do I have?" not in json.dumps(bob_request.messages)


RISKY = {"command": PYTHON, "args": [server_path("risky_server")]}


def asks_approval(message: dict[str, Any]) -> bool:
    return any(b.get("block_id") == "approval" for b in message.get("blocks") or [])


async def risky_app_with_shell_allowed(user: SlackUser) -> None:
    await add_ready_server(user, "risky", RISKY)
    await allow_with_confirmation(user, "risky", "run_shell")


async def test_a_risky_call_waits_for_allow_once_then_runs_and_the_answer_follows(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        await risky_app_with_shell_allowed(alice)
        model.script(ToolCalls(Call("risky__run_shell", {"command": "ls"}, call_id="call_ls")), Reply("Listed."))

        sent = await alice.say("list my files")
        ask = await final_reply(alice, sent, asks_approval)
        assert "risky__run_shell" in ask["text"] or "risky__run_shell" in json.dumps(ask["blocks"])
        assert len(model.requests) == 1  # nothing ran yet

        await alice.click_in_thread(ask, "assistant_approve_once")
        await final_reply(alice, sent, lambda m: "Listed." in m["text"])
        assert "would run: ls" in model.requests[1].tool_result_for("call_ls")
        answered = harness.slack.thread_messages(sent.channel, sent.ts)
        assert any("Allowed" in json.dumps(m.get("blocks")) for m in answered)


async def test_a_denied_call_is_told_to_the_model_as_denied_and_never_runs(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        await risky_app_with_shell_allowed(alice)
        model.script(ToolCalls(Call("risky__run_shell", {"command": "rm"}, call_id="call_rm")), Reply("Okay, not run."))
        sent = await alice.say("delete stuff")
        ask = await final_reply(alice, sent, asks_approval)
        await alice.click_in_thread(ask, "assistant_deny")
        await final_reply(alice, sent, lambda m: "Okay, not run." in m["text"])
        told = model.requests[1].tool_result_for("call_rm")
        assert "denied" in told and "would run" not in told
        calls = await harness.app.db.fetch_all("SELECT 1 FROM audit_log WHERE action = 'tool_call'")
        assert calls == []


async def test_only_the_asker_can_answer_an_approval_in_a_shared_thread(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice, mallory = harness.user("UALICE01"), harness.user("UMALLORY")
        await risky_app_with_shell_allowed(alice)
        model.script(ToolCalls(Call("risky__run_shell", {"command": "id"})), Reply("Done."))
        sent = await alice.mention("run id")
        ask = await final_reply(alice, sent, asks_approval)

        await mallory.click_in_thread(ask, "assistant_approve_once")
        refusal = await harness.slack.wait_for("chat.postEphemeral", lambda c: c.params.get("user") == "UMALLORY")
        assert "Only <@UALICE01> can approve" in refusal.params["text"]
        assert len(model.requests) == 1

        await alice.click_in_thread(ask, "assistant_approve_once")
        await final_reply(alice, sent, lambda m: "Done." in m["text"])


async def test_always_allow_stops_asking_for_that_tool(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        await risky_app_with_shell_allowed(alice)
        model.script(
            ToolCalls(Call("risky__run_shell", {"command": "a"})),
            Reply("First."),
            ToolCalls(Call("risky__run_shell", {"command": "b"})),
            Reply("Second, without asking."),
        )
        sent = await alice.say("run a")
        ask = await final_reply(alice, sent, asks_approval)
        await alice.click_in_thread(ask, "assistant_approve_always")
        await final_reply(alice, sent, lambda m: "First." in m["text"])
        await alice.say("run b", channel=sent.channel, thread_ts=sent.ts)
        await final_reply(alice, sent, lambda m: "Second, without asking." in m["text"])
        approvals = [m for m in harness.slack.thread_messages(sent.channel, sent.ts) if asks_approval(m)]
        assert len(approvals) == 0 or all("Allowed" in json.dumps(m.get("blocks")) for m in approvals)
        assert (
            len(
                [
                    m
                    for m in harness.slack.calls
                    if m.method == "chat.postMessage" and "approval" in json.dumps(m.params.get("blocks"))
                ]
            )
            == 1
        )


async def test_an_unanswered_approval_expires_and_the_model_is_told(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        await risky_app_with_shell_allowed(alice)
        model.script(ToolCalls(Call("risky__run_shell", {"command": "x"}, call_id="call_x")), Reply("It expired."))
        sent = await alice.say("run x")
        ask = await final_reply(alice, sent, asks_approval)
        assert harness.app.core.assistant is not None
        assert await harness.app.core.assistant.expire_due(now=time.time() + 31 * 60) == 1
        await final_reply(alice, sent, lambda m: "It expired." in m["text"])
        assert "in time" in model.requests[1].tool_result_for("call_x")
        await alice.click_in_thread(ask, "assistant_approve_once")  # too late: nothing more runs
        late = await harness.slack.wait_for("chat.postEphemeral")
        assert "already answered" in late.params["text"]
        assert len(model.requests) == 2


async def test_an_approval_pending_across_a_restart_resumes_the_turn_when_clicked(tmp_path: Path) -> None:
    async with FakeModel() as model, FakeSlack() as slack:
        data_dir = tmp_path / "app"
        model.script(ToolCalls(Call("risky__run_shell", {"command": "up"}, call_id="call_up")), Reply("After restart."))
        async with Harness.app_on(data_dir, slack, **llm_settings(model)) as first:
            alice = first.user()
            await risky_app_with_shell_allowed(alice)
            sent = await alice.say("run up")
            ask = await final_reply(alice, sent, asks_approval)
        async with Harness.app_on(data_dir, slack, **llm_settings(model)) as second:
            alice = second.user()
            await alice.click_in_thread(ask, "assistant_approve_once")
            await final_reply(alice, sent, lambda m: "After restart." in m["text"])
            assert "would run: up" in model.requests[1].tool_result_for("call_up")
        assert slack.problems == []


async def test_a_model_that_never_answers_ends_in_a_clear_timeout_line(tmp_path: Path) -> None:
    async with assistant_app(tmp_path, plugboard_llm_timeout=1.0) as (harness, model):
        alice = harness.user()
        model.script(*[Hang()] * (SDK_MAX_RETRIES + 1))
        sent = await alice.say("hello?")
        failed = await final_reply(alice, sent)
        assert ":warning:" in failed["text"] and "Retry" in json.dumps(failed["blocks"])


async def test_the_assistant_can_be_turned_off_for_channels_but_still_answers_dms(tmp_path: Path) -> None:
    policy = policy_toml(extra="[assistant]\nin_channels = false\n")
    async with assistant_app(tmp_path, policy=policy) as (harness, model):
        alice = harness.user()
        sent = await alice.mention("hi in a channel")
        off = await final_reply(alice, sent)
        assert "turned off in channels" in off["text"]
        model.script(Reply("Hi in DM."))
        dm = await alice.say("hi")
        await final_reply(alice, dm, lambda m: "Hi in DM." in m["text"])
        assert len(model.requests) == 1


async def test_an_attached_file_gets_not_supported_yet(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        event = payloads.file_share_message(
            "read this", user_id=alice.user_id, channel=payloads.dm_channel_id(alice.user_id)
        )
        sent = await alice.send_event(event)
        reply = await final_reply(alice, sent)
        assert "files" in reply["text"] and model.requests == []


async def test_without_streaming_the_answer_is_posted_and_updated_instead(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        harness.slack.streaming_enabled = False
        alice = harness.user()
        await add_ready_server(alice, "tiny", TINY)
        model.script(ToolCalls(Call("tiny__add", {"a": 2, "b": 3})), Reply("It is 5."))
        sent = await alice.say("2+3?")
        reply = await final_reply(alice, sent, lambda m: "It is 5." in m["text"] and "Tools in this thread" in str(m))
        assert "tiny__add" in reply["text"] and "done in" in reply["text"]
        assert "Tools in this thread" in json.dumps(reply["blocks"])


async def test_the_thread_tools_button_narrows_the_servers_a_thread_may_use(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        await add_ready_server(alice, "tiny", TINY)
        await add_ready_server(alice, "other", TINY)
        model.script(Reply("Two servers."), Reply("One server."))
        sent = await alice.say("hi")
        first = await final_reply(alice, sent)
        mark = harness.slack.mark()
        await alice.click_in_thread(first, "assistant_thread_tools")
        opened = await harness.slack.wait_for("views.open", after=mark)
        assert opened.response is not None
        view = opened.response["view"]
        await alice.submit_state(view, {"thread_servers": payloads.options_value(["tiny"])})
        await alice.say("again", channel=sent.channel, thread_ts=sent.ts)
        await final_reply(alice, sent, lambda m: "One server." in m["text"])
        assert "other__echo" in model.requests[0].tool_names
        assert "other__echo" not in model.requests[1].tool_names and "tiny__echo" in model.requests[1].tool_names


async def test_a_tool_marked_ask_waits_for_approval_and_a_plain_allow_stops_the_asking(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        await add_ready_server(alice, "tiny", TINY)
        await alice.command("ask tiny__echo")
        assert "ask you before every call" in str(await alice.reply())
        model.script(ToolCalls(Call("tiny__echo", {"message": "hi"})), Reply("Echoed after asking."))
        sent = await alice.say("echo hi")
        ask = await final_reply(alice, sent, asks_approval)
        assert "you asked to be asked" in json.dumps(ask["blocks"])
        await alice.click_in_thread(ask, "assistant_approve_once")
        await final_reply(alice, sent, lambda m: "Echoed after asking." in m["text"])

        await alice.command("allow tiny__echo")
        await alice.reply()
        model.script(ToolCalls(Call("tiny__echo", {"message": "again"})), Reply("No question this time."))
        await alice.say("echo again", channel=sent.channel, thread_ts=sent.ts)
        await final_reply(alice, sent, lambda m: "No question this time." in m["text"])
        assert len([m for m in harness.slack.thread_messages(sent.channel, sent.ts) if "approval" in str(m)]) <= 1


async def test_app_home_says_the_assistant_is_not_set_up_until_a_model_is_configured(tmp_path: Path) -> None:
    async with Harness.running(tmp_path / "plain") as harness:
        alice = harness.user()
        await alice.send_event(payloads.app_home_opened(alice.user_id))
        published = await harness.slack.wait_for("views.publish")
        assert "not set up" in json.dumps(published.params["view"]) and "/mcp run" in json.dumps(published.params)
    async with assistant_app(tmp_path) as (harness, _model):
        alice = harness.user()
        await alice.send_event(payloads.app_home_opened(alice.user_id))
        published = await harness.slack.wait_for("views.publish")
        assert "not set up" not in json.dumps(published.params["view"])
        assert "Messages" in json.dumps(published.params["view"])


async def test_opening_the_messages_tab_offers_suggested_prompts_without_a_thread(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, _model):
        alice = harness.user()
        await alice.send_event(payloads.app_home_opened(alice.user_id, tab="messages"))
        offered = await harness.slack.wait_for("assistant.threads.setSuggestedPrompts")
        assert "thread_ts" not in offered.params and len(offered.params["prompts"]) <= 4


async def test_a_server_not_running_is_started_for_the_call_with_a_starting_status(tmp_path: Path) -> None:
    async with FakeModel() as model, FakeSlack() as slack:
        data_dir = tmp_path / "app"
        async with Harness.app_on(data_dir, slack, **llm_settings(model)) as first:
            await add_ready_server(first.user(), "tiny", TINY)
        async with Harness.app_on(data_dir, slack, **llm_settings(model)) as second:
            owner = Owner(team_id=payloads.TEAM_ID, user_id=payloads.USER_ID)
            record = await second.app.core.store.repo.get_by_name(owner, "tiny")
            assert record is not None and not second.app.sessions.is_live(record.id)  # lazy: nothing at boot
            model.script(ToolCalls(Call("tiny__echo", {"message": "wake up"})), Reply("It woke up."))
            alice = second.user()
            sent = await alice.say("echo wake up")
            await final_reply(alice, sent, lambda m: "It woke up." in m["text"])
            assert "tiny__echo" in model.requests[0].tool_names  # offered from the stored catalog
            statuses = slack.statuses(sent.channel, sent.ts)
            assert any(s.startswith("Starting tiny") for s in statuses), statuses


ASKER = {"command": PYTHON, "args": [server_path("elicit_server")]}


async def test_a_servers_question_mid_call_is_asked_in_the_thread_and_the_answer_reaches_the_model(
    tmp_path: Path,
) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        await add_ready_server(alice, "asker", ASKER)
        model.script(ToolCalls(Call("asker__sign_up", {}, call_id="call_signup")), Reply("You are signed up."))
        sent = await alice.say("sign me up")
        question = await harness.slack.wait_for(
            "chat.postMessage",
            lambda c: c.ok and c.params.get("thread_ts") == sent.ts and "Provide input" in json.dumps(c.params),
            timeout=30,
        )
        assert question.response is not None
        message = {**question.params, "channel": question.response["channel"], "ts": question.response["ts"]}
        mark = harness.slack.mark()
        await alice.click_in_thread(message, ids.ELICIT_OPEN)
        opened = await harness.slack.wait_for("views.open", after=mark, timeout=10)
        assert opened.response is not None
        view = opened.response["view"]
        labels = {b["label"]["text"]: b["block_id"] for b in view["blocks"] if b["type"] == "input"}
        answers = {
            labels["Name"]: payloads.text_value("ann"),
            labels["Age"]: payloads.text_value("30"),
            labels["Plan"]: payloads.option_value("1"),
        }
        await alice.submit_state(view, answers)
        await final_reply(alice, sent, lambda m: "You are signed up." in m["text"])
        assert "accepted: name=ann age=30 plan=pro" in model.requests[1].tool_result_for("call_signup")


async def test_a_servers_progress_shows_on_the_calls_step(tmp_path: Path) -> None:
    async with assistant_app(tmp_path) as (harness, model):
        alice = harness.user()
        await add_ready_server(alice, "asker", ASKER)
        model.script(ToolCalls(Call("asker__count", {"steps": 3}, call_id="call_count")), Reply("Counted."))
        sent = await alice.say("count to three")
        reply = await final_reply(alice, sent, lambda m: "Counted." in m["text"])
        updates = [
            c
            for c in reply.get("chunks", [])
            if c.get("type") == "task_update" and c.get("id") == "call_count" and c.get("status") == "in_progress"
        ]
        assert any("step" in (u.get("details") or "") for u in updates), updates
        assert harness.slack.stream_tasks(sent.channel, reply["ts"])["call_count"]["status"] == "complete"
