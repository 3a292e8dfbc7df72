"""The model adapter end to end over real HTTP: AgentRunner → pydantic-ai → openai SDK → the fake
OpenAI-compatible server (tests/support/fake_model.py), with an in-memory ToolBox at the seam we own."""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import anyio
import pytest

from app.agent.events import (
    ApprovalNeeded,
    Decision,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnEvent,
    TurnFailed,
)
from app.agent.model_config import ModelConfig
from app.agent.runner import AgentRunner
from app.agent.tokens import TokenCounter
from app.agent.toolbox import AgentTool, ToolRefused, ToolResult
from tests.support.fake_model import (
    Call,
    FakeAnthropic,
    FakeModel,
    Hang,
    HttpError,
    ModelCall,
    Reply,
    Step,
    StreamError,
    ToolCalls,
    call_tool_then_answer,
)

pytestmark = pytest.mark.anyio

API_KEY = "sk-test-0123456789-very-secret"
NOTES_SCHEMA = {
    "type": "object",
    "properties": {"query": {"type": "string"}, "limit": {"type": "integer", "maximum": 5}},
    "required": ["query"],
}
SEARCH = AgentTool("notes__search", "Search my notes", NOTES_SCHEMA)
DELETE = AgentTool("notes__delete", "Delete a note", {"type": "object", "properties": {"id": {"type": "string"}}})
RISKY_DELETE = AgentTool(DELETE.name, DELETE.description, DELETE.input_schema, needs_approval=True)


@dataclass
class MemoryToolBox:
    """A ToolBox fake: a mutable tool list, scripted results per tool, and a record of every call made."""

    listed: list[AgentTool]
    results: dict[str, ToolResult | Exception] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    listings: int = 0

    async def tools(self) -> list[AgentTool]:
        self.listings += 1
        return list(self.listed)

    async def call(self, name: str, arguments: dict[str, Any], *, call_id: str = "") -> ToolResult:
        self.calls.append((name, arguments))
        result = self.results.get(name, ToolResult(text=f"{name} ran"))
        if isinstance(result, Exception):
            raise result
        return result


@pytest.fixture(scope="module")
def token_counter(tmp_path_factory: pytest.TempPathFactory) -> TokenCounter:
    counter = TokenCounter("fake-model", cache_dir=tmp_path_factory.mktemp("tiktoken"))
    counter.load_blocking()
    return counter


@pytest.fixture
async def model() -> AsyncIterator[FakeModel]:
    async with FakeModel() as fake:
        yield fake
        assert fake.problems == []


def runner_for(model: FakeModel, tokens: TokenCounter, **config: Any) -> AgentRunner:
    settings = ModelConfig(provider="openai", model="fake-model", api_key=API_KEY, base_url=model.base_url, **config)
    return AgentRunner(settings, instructions="You run the person's tools.", tokens=tokens)


async def run_turn(
    runner: AgentRunner,
    toolbox: MemoryToolBox,
    *,
    prompt: str | None,
    history: bytes | None = None,
    decisions: dict[str, Decision] | None = None,
) -> list[TurnEvent]:
    with anyio.fail_after(20):
        return [event async for event in runner.turn(toolbox, history=history, prompt=prompt, decisions=decisions)]


def last(events: list[TurnEvent]) -> TurnEvent:
    assert events, "the turn yielded nothing"
    return events[-1]


def done(events: list[TurnEvent]) -> TurnDone:
    end = last(events)
    assert isinstance(end, TurnDone), end
    return end


def failed(events: list[TurnEvent]) -> TurnFailed:
    end = last(events)
    assert isinstance(end, TurnFailed), end
    return end


def steps(events: list[TurnEvent]) -> list[tuple[str, str]]:
    """Tool steps as (kind, status) in order: ("started", name) or ("finished:<status>", name)."""
    out: list[tuple[str, str]] = []
    for event in events:
        if isinstance(event, ToolStarted):
            out.append(("started", event.tool_name))
        elif isinstance(event, ToolFinished):
            out.append((f"finished:{event.status}", event.tool_name))
    return out


async def test_the_answer_streams_in_order_including_its_first_piece(model, token_counter):
    model.script(Reply("It is sunny in Lisbon today.", pieces=4))

    events = await run_turn(runner_for(model, token_counter), MemoryToolBox([]), prompt="Weather?")

    deltas = [event.text for event in events if isinstance(event, TextDelta)]
    assert len(deltas) >= 3
    assert "".join(deltas) == "It is sunny in Lisbon today."
    assert done(events).text == "It is sunny in Lisbon today."
    assert model.requests[0].user_texts == ["Weather?"]
    assert model.requests[0].messages[0] == {"role": "system", "content": "You run the person's tools."}


async def test_a_tool_call_shows_as_steps_and_its_result_reaches_the_model(model, token_counter):
    toolbox = MemoryToolBox([SEARCH], results={SEARCH.name: ToolResult("3 notes found", truncated_chars=120)})
    model.script(ToolCalls(Call(SEARCH.name, {"query": "lisbon"}, call_id="call_1")), Reply("You have 3 notes."))

    events = await run_turn(runner_for(model, token_counter), toolbox, prompt="Find lisbon notes")

    assert toolbox.calls == [(SEARCH.name, {"query": "lisbon"})]
    assert steps(events) == [("started", SEARCH.name), ("finished:done", SEARCH.name)]
    started = next(event for event in events if isinstance(event, ToolStarted))
    assert started.arguments == {"query": "lisbon"} and started.call_id == "call_1"
    finished = next(event for event in events if isinstance(event, ToolFinished))
    assert finished.truncated_chars == 120
    assert model.requests[0].tool_names == [SEARCH.name]
    assert model.requests[0].tool_schema(SEARCH.name)["properties"] == NOTES_SCHEMA["properties"]
    assert model.requests[1].tool_result_for("call_1") == "3 notes found"
    assert done(events).text == "You have 3 notes."
    assert done(events).usage["tool_calls"] == 1


async def test_arguments_failing_the_schema_are_sent_back_and_the_model_retries(model, token_counter):
    toolbox = MemoryToolBox([SEARCH])
    model.script(
        ToolCalls(Call(SEARCH.name, {"query": "x", "limit": 50}, call_id="call_bad")),
        ToolCalls(Call(SEARCH.name, {"query": "x", "limit": 5}, call_id="call_good")),
        Reply("Done."),
    )

    events = await run_turn(runner_for(model, token_counter), toolbox, prompt="search")

    assert toolbox.calls == [(SEARCH.name, {"query": "x", "limit": 5})]
    told = model.requests[1].tool_result_for("call_bad")
    assert "limit" in told and "50 is greater than the maximum of 5" in told
    assert steps(events) == [
        ("started", SEARCH.name),
        ("finished:failed", SEARCH.name),
        ("started", SEARCH.name),
        ("finished:done", SEARCH.name),
    ]
    assert done(events).text == "Done."


async def test_arguments_that_are_not_json_are_sent_back_too(model, token_counter):
    toolbox = MemoryToolBox([SEARCH])
    model.script(ToolCalls(Call(SEARCH.name, '{"query": ', call_id="call_broken")), Reply("Sorry."))

    events = await run_turn(runner_for(model, token_counter), toolbox, prompt="search")

    assert toolbox.calls == []
    assert "call_broken" in [m["tool_call_id"] for m in model.requests[1].tool_results]
    assert done(events).text == "Sorry."


async def test_an_unknown_tool_name_never_reaches_the_toolbox(model, token_counter):
    toolbox = MemoryToolBox([SEARCH])
    model.script(ToolCalls(Call("admin__drop_database", {}, call_id="call_x")), Reply("I can't do that."))

    events = await run_turn(runner_for(model, token_counter), toolbox, prompt="drop it")

    assert toolbox.calls == []
    assert "admin__drop_database" in model.requests[1].tool_result_for("call_x")
    assert model.requests[1].tool_names == [SEARCH.name]
    assert done(events).text == "I can't do that."


async def test_a_refused_call_reaches_the_model_as_an_error(model, token_counter):
    toolbox = MemoryToolBox([SEARCH], results={SEARCH.name: ToolRefused("The notes server is not running.")})
    model.script(ToolCalls(Call(SEARCH.name, {"query": "a"}, call_id="call_1")), Reply("The server is down."))

    events = await run_turn(runner_for(model, token_counter), toolbox, prompt="search")

    told = json.loads(model.requests[1].tool_result_for("call_1"))
    assert told == {"error": "The notes server is not running."}
    finished = next(event for event in events if isinstance(event, ToolFinished))
    assert finished.status == "failed" and finished.error == "The notes server is not running."
    assert done(events).text == "The server is down."


async def test_a_tool_error_result_reaches_the_model_as_an_error(model, token_counter):
    toolbox = MemoryToolBox([SEARCH], results={SEARCH.name: ToolResult("index is corrupt", is_error=True)})
    model.script(ToolCalls(Call(SEARCH.name, {"query": "a"}, call_id="call_1")), Reply("Search failed."))

    events = await run_turn(runner_for(model, token_counter), toolbox, prompt="search")

    assert json.loads(model.requests[1].tool_result_for("call_1")) == {"error": "index is corrupt"}
    assert steps(events)[-1] == ("finished:failed", SEARCH.name)
    assert done(events).text == "Search failed."


async def test_a_crashing_toolbox_call_is_a_failed_step_not_a_failed_turn(model, token_counter):
    toolbox = MemoryToolBox([SEARCH], results={SEARCH.name: RuntimeError("boom at /srv/secret/path")})
    model.script(ToolCalls(Call(SEARCH.name, {"query": "a"}, call_id="call_1")), Reply("Something broke."))

    events = await run_turn(runner_for(model, token_counter), toolbox, prompt="search")

    told = model.requests[1].tool_result_for("call_1")
    assert "internal error" in told and "/srv/secret/path" not in told
    assert done(events).text == "Something broke."


async def test_a_risky_call_pauses_for_approval_and_runs_once_allowed(model, token_counter):
    toolbox = MemoryToolBox([SEARCH, RISKY_DELETE])
    runner = runner_for(model, token_counter)
    model.script(ToolCalls(Call(DELETE.name, {"id": "n1"}, call_id="call_del")))

    first = await run_turn(runner, toolbox, prompt="delete note n1")

    assert toolbox.calls == []
    assert steps(first) == []
    approval = next(event for event in first if isinstance(event, ApprovalNeeded))
    assert [(c.call_id, c.tool_name, c.arguments) for c in approval.calls] == [("call_del", DELETE.name, {"id": "n1"})]
    paused = done(first)
    assert paused.pending == approval.calls

    model.script(Reply("Deleted n1."))
    second = await run_turn(
        runner, toolbox, prompt=None, history=paused.history, decisions={"call_del": Decision(approved=True)}
    )

    assert toolbox.calls == [(DELETE.name, {"id": "n1"})]
    assert steps(second) == [("started", DELETE.name), ("finished:done", DELETE.name)]
    assert model.requests[1].tool_result_for("call_del") == f"{DELETE.name} ran"
    assert done(second).text == "Deleted n1." and done(second).pending == ()


async def test_a_denied_call_is_told_to_the_model(model, token_counter):
    toolbox = MemoryToolBox([RISKY_DELETE])
    runner = runner_for(model, token_counter)
    model.script(ToolCalls(Call(DELETE.name, {"id": "n1"}, call_id="call_del")))
    paused = done(await run_turn(runner, toolbox, prompt="delete n1"))

    model.script(Reply("OK, I left it."))
    events = await run_turn(
        runner, toolbox, prompt=None, history=paused.history, decisions={"call_del": Decision(approved=False)}
    )

    assert toolbox.calls == []
    assert model.requests[1].tool_result_for("call_del") == "the user denied this call"
    denied = [event for event in events if isinstance(event, ToolFinished)]
    assert [(d.call_id, d.status, d.error) for d in denied] == [("call_del", "denied", "the user denied this call")]
    assert not any(isinstance(event, ToolStarted) for event in events)
    assert done(events).text == "OK, I left it."


async def test_a_new_message_supersedes_calls_waiting_for_approval(model, token_counter):
    toolbox = MemoryToolBox([RISKY_DELETE])
    runner = runner_for(model, token_counter)
    model.script(ToolCalls(Call(DELETE.name, {"id": "n1"}, call_id="call_del")))
    paused = done(await run_turn(runner, toolbox, prompt="delete n1"))

    model.script(Reply("Never mind then."))
    events = await run_turn(runner, toolbox, prompt="actually, don't", history=paused.history)

    assert toolbox.calls == []
    assert "new message" in model.requests[1].tool_result_for("call_del")
    assert model.requests[1].user_texts == ["delete n1", "actually, don't"]
    assert steps(events) == [("finished:denied", DELETE.name)]
    assert done(events).text == "Never mind then."


async def test_tools_are_listed_again_before_every_request(model, token_counter):
    toolbox = MemoryToolBox([SEARCH, DELETE])

    def remove_delete_then_search(request: ModelCall) -> Step:
        if not request.tool_results:
            toolbox.listed = [SEARCH]  # a server disabled mid-turn (hot reload)
            return ToolCalls(Call(SEARCH.name, {"query": "q"}, call_id="call_1"))
        return Reply("done")

    model.responder = remove_delete_then_search
    events = await run_turn(runner_for(model, token_counter), toolbox, prompt="go")

    assert model.requests[0].tool_names == [SEARCH.name, DELETE.name]
    assert model.requests[1].tool_names == [SEARCH.name]
    assert done(events).text == "done"


async def test_an_http_500_becomes_a_clear_failure(model, token_counter):
    model.script(HttpError(500), HttpError(500))  # the SDK retries once

    events = await run_turn(runner_for(model, token_counter), MemoryToolBox([]), prompt="hi")

    failure = failed(events)
    assert failure.message == "The model service answered with an error (HTTP 500). Try again in a moment."
    assert failure.retryable
    assert len(model.requests) == 2


async def test_a_rejected_key_is_a_failure_for_the_admin(model, token_counter):
    model.script(HttpError(401, "Incorrect API key provided"))

    failure = failed(await run_turn(runner_for(model, token_counter), MemoryToolBox([]), prompt="hi"))

    assert "API key" in failure.message and not failure.retryable
    assert API_KEY not in failure.message


async def test_an_error_in_the_middle_of_the_stream_becomes_a_clear_failure(model, token_counter):
    model.script(StreamError(text_before="Let me"))

    events = await run_turn(runner_for(model, token_counter), MemoryToolBox([]), prompt="hi")

    failure = failed(events)
    assert failure.message.startswith("The model service")
    assert "crashed" not in failure.message and "Traceback" not in failure.message


async def test_a_hanging_model_fails_within_the_timeout(model, token_counter):
    model.script(Hang(), Hang())
    runner = runner_for(model, token_counter, timeout_seconds=0.5)

    with anyio.fail_after(5):
        events = await run_turn(runner, MemoryToolBox([]), prompt="hi")

    assert failed(events).message == "The model took longer than 0.5 s to answer. Try again in a moment."


async def test_too_many_tool_calls_stop_the_turn(model, token_counter):
    toolbox = MemoryToolBox([SEARCH])
    model.responder = lambda request: ToolCalls(Call(SEARCH.name, {"query": "again"}))

    events = await run_turn(runner_for(model, token_counter, max_tool_calls=3), toolbox, prompt="loop")

    assert failed(events).message == "Stopped after 3 tool calls in one turn (the limit)."
    assert len(toolbox.calls) == 3


async def test_history_round_trips_and_a_follow_up_sees_earlier_messages(model, token_counter):
    toolbox = MemoryToolBox([SEARCH], results={SEARCH.name: ToolResult("note: buy milk")})
    runner = runner_for(model, token_counter)
    model.script(ToolCalls(Call(SEARCH.name, {"query": "todo"}, call_id="call_1")), Reply("Buy milk."))
    first = done(await run_turn(runner, toolbox, prompt="What is on my list?"))

    model.script(Reply("You asked about your list."))
    second = done(await run_turn(runner, toolbox, prompt="What did I ask?", history=first.history))

    follow_up = model.requests[-1]
    assert follow_up.user_texts == ["What is on my list?", "What did I ask?"]
    assert follow_up.tool_result_for("call_1") == "note: buy milk"
    assert any(m.get("role") == "assistant" and m.get("content") == "Buy milk." for m in follow_up.messages)
    assert second.text == "You asked about your list."
    assert len(second.history) > len(first.history)


async def test_an_old_tool_result_is_cut_from_history_over_budget(model, token_counter):
    big = "lorem ipsum " * 2000
    toolbox = MemoryToolBox([SEARCH], results={SEARCH.name: ToolResult(big)})
    runner = runner_for(model, token_counter, history_tokens=800)
    model.script(ToolCalls(Call(SEARCH.name, {"query": "all"}, call_id="call_1")), Reply("Long list."))
    first = done(await run_turn(runner, toolbox, prompt="Everything?"))

    model.script(Reply("Short answer."))
    await run_turn(runner, toolbox, prompt="And now?", history=first.history)

    follow_up = model.requests[-1]
    assert follow_up.tool_result_for("call_1") == "[older tool result removed to fit the conversation budget]"
    assert follow_up.user_texts == ["Everything?", "And now?"]


async def test_a_short_conversation_is_answered_without_loading_the_tokenizer(model, tmp_path):
    tokens = TokenCounter("fake-model", cache_dir=tmp_path / "tiktoken")
    runner = runner_for(model, tokens)
    model.script(Reply("Hello."), Reply("Again."))
    first = done(await run_turn(runner, MemoryToolBox([]), prompt="Hi"))
    done(await run_turn(runner, MemoryToolBox([]), prompt="Hi again", history=first.history))
    assert not tokens.loaded


async def test_a_conversation_over_budget_loads_the_tokenizer_and_is_trimmed(model, tmp_path):
    tokens = TokenCounter("fake-model", cache_dir=tmp_path / "tiktoken")
    toolbox = MemoryToolBox([SEARCH], results={SEARCH.name: ToolResult("lorem ipsum " * 2000)})
    runner = runner_for(model, tokens, history_tokens=800)
    model.script(ToolCalls(Call(SEARCH.name, {"query": "all"}, call_id="call_1")), Reply("Long list."))
    first = done(await run_turn(runner, toolbox, prompt="Everything?"))

    model.script(Reply("Short answer."))
    await run_turn(runner, toolbox, prompt="And now?", history=first.history)

    assert tokens.loaded
    assert model.requests[-1].tool_result_for("call_1") == "[older tool result removed to fit the conversation budget]"


async def test_the_api_key_is_sent_as_bearer_and_nowhere_else(model, token_counter):
    toolbox = MemoryToolBox([SEARCH])
    model.script(ToolCalls(Call(SEARCH.name, {"query": "k"}, call_id="call_1")), Reply("ok"))

    events = await run_turn(runner_for(model, token_counter), toolbox, prompt="hi")

    assert all(request.authorization == f"Bearer {API_KEY}" for request in model.requests)
    assert all(API_KEY not in json.dumps(request.body) for request in model.requests)
    assert API_KEY not in repr(events)
    assert API_KEY.encode() not in done(events).history
    assert model.base_url.encode() not in done(events).history
    assert API_KEY not in repr(runner_for(model, token_counter).config)


async def test_a_stored_history_that_cannot_be_read_fails_clearly(model, token_counter):
    failure = failed(await run_turn(runner_for(model, token_counter), MemoryToolBox([]), prompt="hi", history=b"[{"))

    assert "history" in failure.message and not failure.retryable
    assert model.requests == []


async def test_the_fake_model_also_answers_without_streaming(model):
    model.script(ToolCalls(Call(SEARCH.name, {"query": "q"}, call_id="call_9")), Reply("plain"))
    async with aiohttp.ClientSession() as session:
        url = f"{model.base_url}/chat/completions"
        async with session.post(url, json={"model": "m", "messages": [], "stream": False}) as response:
            first = await response.json()
        async with session.post(url, json={"model": "m", "messages": [], "stream": False}) as response:
            second = await response.json()

    call = first["choices"][0]["message"]["tool_calls"][0]
    assert (call["id"], call["function"]["name"], json.loads(call["function"]["arguments"])) == (
        "call_9",
        SEARCH.name,
        {"query": "q"},
    )
    assert first["choices"][0]["finish_reason"] == "tool_calls"
    assert second["choices"][0]["message"]["content"] == "plain"


async def test_a_failed_turn_keeps_the_question_and_a_follow_up_continues(model, token_counter):
    runner = runner_for(model, token_counter)
    model.script(HttpError(500), HttpError(500))
    failure = failed(await run_turn(runner, MemoryToolBox([]), prompt="First question"))
    assert failure.history is not None

    model.script(Reply("Second answer."))
    follow_up_events = await run_turn(runner, MemoryToolBox([]), prompt="Second question", history=failure.history)

    follow_up = model.requests[-1]
    assert follow_up.user_texts == ["First question", "Second question"]
    assert any(m.get("role") == "assistant" and failure.message in str(m.get("content")) for m in follow_up.messages)
    assert done(follow_up_events).text == "Second answer."


async def test_calls_cut_off_by_the_limit_are_closed_in_the_kept_history(model, token_counter):
    toolbox = MemoryToolBox([SEARCH])
    runner = runner_for(model, token_counter, max_tool_calls=1)
    model.script(
        ToolCalls(Call(SEARCH.name, {"query": "1"}, call_id="call_1")),
        ToolCalls(Call(SEARCH.name, {"query": "2"}, call_id="call_2")),
    )
    failure = failed(await run_turn(runner, toolbox, prompt="loop"))
    assert failure.history is not None and len(toolbox.calls) == 1

    model.script(Reply("Sorry about that."))
    events = await run_turn(runner, toolbox, prompt="and now?", history=failure.history)

    follow_up = model.requests[-1]
    assert follow_up.tool_result_for("call_1") == f"{SEARCH.name} ran"
    assert "Not run" in follow_up.tool_result_for("call_2")
    assert done(events).pending == () and len(toolbox.calls) == 1


async def test_an_approved_call_is_not_run_twice_after_the_model_fails(model, token_counter):
    toolbox = MemoryToolBox([RISKY_DELETE])
    runner = runner_for(model, token_counter)
    model.script(ToolCalls(Call(DELETE.name, {"id": "n1"}, call_id="call_del")))
    paused = done(await run_turn(runner, toolbox, prompt="delete n1"))

    model.script(HttpError(502), HttpError(502))
    failure = failed(
        await run_turn(runner, toolbox, prompt=None, history=paused.history, decisions={"call_del": Decision(True)})
    )
    assert failure.message == "The model service answered with an error (HTTP 502). Try again in a moment."
    assert failure.history is not None

    model.script(Reply("It was deleted."))
    events = await run_turn(runner, toolbox, prompt="did it work?", history=failure.history)

    assert toolbox.calls == [(DELETE.name, {"id": "n1"})]
    assert model.requests[-1].tool_result_for("call_del") == f"{DELETE.name} ran"
    assert done(events).text == "It was deleted."


async def test_the_zero_latency_fake_serves_the_bench_tool_call_and_answer(token_counter):
    toolbox = MemoryToolBox([SEARCH])
    responder = call_tool_then_answer(SEARCH.name, {"query": "bench"}, "Bench done.")
    async with FakeModel(responder=responder, zero_latency=True) as fast:
        events = await run_turn(runner_for(fast, token_counter), toolbox, prompt="go")
        events_again = await run_turn(runner_for(fast, token_counter), toolbox, prompt="again")

    assert toolbox.calls == [(SEARCH.name, {"query": "bench"})] * 2
    assert done(events).text == done(events_again).text == "Bench done."
    assert "".join(event.text for event in events if isinstance(event, TextDelta)) == "Bench done."


async def test_the_anthropic_provider_streams_an_answer_with_its_own_key(token_counter):
    async with FakeAnthropic("Hello from Claude.") as claude:
        config = ModelConfig(provider="anthropic", model="claude-test", api_key=API_KEY, base_url=claude.base_url)
        runner = AgentRunner(config, instructions="Be brief.", tokens=token_counter)
        events = await run_turn(runner, MemoryToolBox([]), prompt="hi")

    assert "".join(event.text for event in events if isinstance(event, TextDelta)) == "Hello from Claude."
    assert done(events).text == "Hello from Claude."
    assert claude.requests[0].authorization == f"Bearer {API_KEY}"
    assert claude.requests[0].body["system"] == [{"type": "text", "text": "Be brief."}]


async def test_a_safe_call_runs_while_its_risky_sibling_waits_for_approval(model, token_counter):
    toolbox = MemoryToolBox([SEARCH, RISKY_DELETE])
    runner = runner_for(model, token_counter)
    model.script(
        ToolCalls(
            Call(SEARCH.name, {"query": "old"}, call_id="call_search"),
            Call(DELETE.name, {"id": "n1"}, call_id="call_del"),
        )
    )
    first = await run_turn(runner, toolbox, prompt="find old notes and delete n1")

    assert toolbox.calls == [(SEARCH.name, {"query": "old"})]
    assert steps(first) == [("started", SEARCH.name), ("finished:done", SEARCH.name)]
    assert [call.call_id for call in done(first).pending] == ["call_del"]

    model.script(Reply("Found and deleted."))
    second = await run_turn(
        runner, toolbox, prompt=None, history=done(first).history, decisions={"call_del": Decision(True)}
    )

    assert toolbox.calls == [(SEARCH.name, {"query": "old"}), (DELETE.name, {"id": "n1"})]
    assert model.requests[1].tool_result_for("call_search") == f"{SEARCH.name} ran"
    assert model.requests[1].tool_result_for("call_del") == f"{DELETE.name} ran"
    assert done(second).text == "Found and deleted."


async def test_a_risky_call_with_bad_arguments_is_sent_back_before_anyone_is_asked(model, token_counter):
    toolbox = MemoryToolBox([RISKY_DELETE])
    model.script(
        ToolCalls(Call(DELETE.name, {"id": 7}, call_id="call_bad")),
        ToolCalls(Call(DELETE.name, {"id": "n7"}, call_id="call_good")),
    )

    events = await run_turn(runner_for(model, token_counter), toolbox, prompt="delete 7")

    assert "is not of type 'string'" in model.requests[1].tool_result_for("call_bad")
    assert [call.call_id for call in done(events).pending] == ["call_good"]
    assert toolbox.calls == []


async def test_a_turn_abandoned_mid_answer_closes_cleanly_and_the_next_one_works(model, token_counter):
    runner = runner_for(model, token_counter)
    model.script(Reply("a long answer that nobody reads to the end", pieces=6), Reply("next"))

    turn = runner.turn(MemoryToolBox([]), history=None, prompt="hi")
    first = await anext(turn)
    await turn.aclose()

    assert isinstance(first, TextDelta)
    assert done(await run_turn(runner, MemoryToolBox([]), prompt="again")).text == "next"


async def test_a_turn_dropped_without_closing_is_finalized_without_errors(model, token_counter):
    runner = runner_for(model, token_counter)
    model.script(Reply("an answer nobody finishes reading", pieces=6), Reply("next"))

    async def read_one_piece() -> TurnEvent:
        async for event in runner.turn(MemoryToolBox([]), history=None, prompt="hi"):
            return event  # leaves the generator open; the event loop's finalizer closes it
        raise AssertionError("no event")

    first = await anext_in_task(read_one_piece)
    gc.collect()

    assert isinstance(first, TextDelta)
    assert done(await run_turn(runner, MemoryToolBox([]), prompt="again")).text == "next"


async def anext_in_task(read: Any) -> TurnEvent:
    async with anyio.create_task_group() as group:
        box: list[TurnEvent] = []

        async def run() -> None:
            box.append(await read())

        group.start_soon(run)
    return box[0]
