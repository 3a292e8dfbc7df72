"""History trimming to a token budget, counted with the real tokenizer loaded offline from bundled files."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from pathlib import Path

import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from app.agent.history import REMOVED_TOOL_RESULT, exchange_starts, history_tokens, trim_history
from app.agent.tokens import BPE_FILES, TokenCounter, encoding_name_for

BIG = "lorem ipsum dolor " * 300  # ≈ 900 tokens


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> TokenCounter:
    counter = TokenCounter("gpt-4o", cache_dir=tmp_path_factory.mktemp("tiktoken"))
    counter.load_blocking()
    return counter


def exchange(n: int, *, tool_result: str | None = None, answer: str = "ok") -> list[ModelMessage]:
    """One exchange: the person's message n, optionally one tool call and its result, then the answer."""
    messages: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart(f"question {n}")])]
    if tool_result is not None:
        messages.append(ModelResponse(parts=[ToolCallPart("notes__search", {"q": str(n)}, tool_call_id=f"c{n}")]))
        messages.append(ModelRequest(parts=[ToolReturnPart("notes__search", tool_result, tool_call_id=f"c{n}")]))
    messages.append(ModelResponse(parts=[TextPart(f"{answer} {n}")]))
    return messages


def returns(messages: list[ModelMessage]) -> dict[str, object]:
    return {
        part.tool_call_id: part.content
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart)
    }


def calls(messages: list[ModelMessage]) -> set[str]:
    return {
        part.tool_call_id
        for message in messages
        if isinstance(message, ModelResponse)
        for part in message.parts
        if isinstance(part, ToolCallPart)
    }


def prompts(messages: list[ModelMessage]) -> list[str]:
    return [
        str(part.content)
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, UserPromptPart)
    ]


def test_a_history_within_budget_is_left_alone(tokens):
    messages = exchange(1, tool_result="small") + exchange(2)

    assert trim_history(messages, 10_000, tokens.count) == messages


def test_the_oldest_tool_results_are_cut_first(tokens):
    messages = exchange(1, tool_result=BIG) + exchange(2, tool_result=BIG) + exchange(3, tool_result=BIG)
    budget = history_tokens(messages, tokens.count) - 500  # cutting one result is enough

    trimmed = trim_history(messages, budget, tokens.count)

    assert returns(trimmed) == {"c1": REMOVED_TOOL_RESULT, "c2": BIG, "c3": BIG}
    assert prompts(trimmed) == ["question 1", "question 2", "question 3"]
    assert history_tokens(trimmed, tokens.count) <= budget


def test_whole_old_exchanges_go_after_the_tool_results(tokens):
    messages = exchange(1, answer=BIG) + exchange(2, tool_result=BIG) + exchange(3, tool_result="latest result")
    budget = history_tokens(exchange(3, tool_result="latest result"), tokens.count) + 120

    trimmed = trim_history(messages, budget, tokens.count)

    assert prompts(trimmed) == ["question 2", "question 3"]
    assert returns(trimmed) == {"c2": REMOVED_TOOL_RESULT, "c3": "latest result"}
    assert history_tokens(trimmed, tokens.count) <= budget


def test_the_latest_exchange_is_always_kept(tokens):
    messages = exchange(1) + exchange(2, tool_result=BIG)

    trimmed = trim_history(messages, 50, tokens.count)

    assert prompts(trimmed) == ["question 2"]
    assert returns(trimmed) == {"c2": REMOVED_TOOL_RESULT}  # its own result goes only as the last resort


def test_without_protection_the_latest_exchange_may_go_too(tokens):
    messages = exchange(1, answer=BIG) + exchange(2, answer=BIG)

    trimmed = trim_history(messages, 50, tokens.count, keep_latest_exchange=False)

    assert trimmed == []


def test_a_tool_call_and_its_result_are_never_split(tokens):
    # A message sent while a call waited for approval shares its request with that call's denial.
    messages: list[ModelMessage] = [
        ModelRequest(parts=[UserPromptPart("delete n1")]),
        ModelResponse(parts=[ToolCallPart("notes__delete", {"id": "n1"}, tool_call_id="d1")]),
        ModelRequest(
            parts=[
                ToolReturnPart("notes__delete", "denied", tool_call_id="d1", outcome="denied"),
                UserPromptPart("actually " + BIG),
            ]
        ),
        ModelResponse(parts=[TextPart("fine")]),
        *exchange(3, tool_result="x"),
    ]

    assert exchange_starts(messages) == [0, 4]
    for budget in (2_000, 900, 200, 20):
        trimmed = trim_history(messages, budget, tokens.count)
        assert calls(trimmed) == set(returns(trimmed)), budget
        assert isinstance(trimmed[0], ModelRequest)
        assert prompts(trimmed)[-1] == "question 3"


def test_a_pending_call_at_the_end_stays_with_its_exchange(tokens):
    pending: list[ModelMessage] = [
        ModelRequest(parts=[UserPromptPart("delete n1 " + BIG)]),
        ModelResponse(parts=[ToolCallPart("notes__delete", {"id": "n1"}, tool_call_id="d1")]),
    ]
    messages = exchange(1, tool_result=BIG) + pending

    trimmed = trim_history(messages, 100, tokens.count)

    assert trimmed == pending


def test_counts_come_from_the_real_tokenizer(tokens):
    assert tokens.encoding_name == "o200k_base"
    assert tokens.count("hello world") == 2
    assert tokens.count("<|endoftext|>") > 1  # special-token text counts as plain text instead of raising
    one = ModelRequest(parts=[UserPromptPart("hello world")])
    assert history_tokens([one], tokens.count) == 2 + 3  # the text, plus the per-message framing


def test_the_tokenizer_is_seeded_offline_with_the_hash_tiktoken_expects(tmp_path: Path):
    counter = TokenCounter("gpt-4", cache_dir=tmp_path)
    counter.load_blocking()

    bpe = BPE_FILES["cl100k_base"]
    seeded = tmp_path / hashlib.sha1(bpe.url.encode()).hexdigest()
    assert hashlib.sha256(seeded.read_bytes()).hexdigest() == bpe.sha256
    assert counter.encoding_name == "cl100k_base"
    assert counter.count("hello world") == 2


def test_an_unknown_model_falls_back_to_o200k():
    assert encoding_name_for("qwen3-coder") == "o200k_base"
    assert encoding_name_for("gpt-4.1-mini") == "o200k_base"
    assert encoding_name_for("gpt-3.5-turbo") == "cl100k_base"


@pytest.mark.anyio
async def test_concurrent_loads_share_one_load_in_a_worker_thread(tmp_path: Path):
    counter = TokenCounter("gpt-4o", cache_dir=tmp_path)
    with pytest.raises(RuntimeError):
        counter.count("too early")
    loads: list[int] = []
    original = counter.load_blocking

    def counted_load() -> None:
        loads.append(threading.get_ident())
        original()

    counter.load_blocking = counted_load  # type: ignore[method-assign]
    await asyncio.gather(counter.load(), counter.load(), counter.load())
    await counter.load()

    assert loads and len(loads) == 1 and loads[0] != threading.get_ident()
    assert counter.loaded and counter.count("hello world") == 2
