"""Keeping a thread's history within a token budget before each turn.

Order of sacrifice: first the oldest tool results (their content replaced by a short note; the call and its
return stay, as providers reject a tool result without its call and vice versa), then the oldest whole exchanges
(a person's message and everything up to the next one), and only then the tool results of the latest exchange.
The latest exchange itself — the person's newest message, and any calls waiting for approval — is never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from pydantic_ai.messages import (
    BaseToolCallPart,
    BaseToolReturnPart,
    ModelMessage,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    ModelResponsePart,
    RetryPromptPart,
    SystemPromptPart,
    TextPart,
    ThinkingPart,
    ToolReturnPart,
    UserPromptPart,
)

REMOVED_TOOL_RESULT = "[older tool result removed to fit the conversation budget]"

# Per-message framing (role, separators), as the OpenAI cookbook estimates it; a non-text attachment's guess.
MESSAGE_OVERHEAD_TOKENS = 3
ATTACHMENT_TOKENS = 85

Counter = Callable[[str], int]


def message_tokens(message: ModelMessage, count: Counter) -> int:
    parts: Sequence[ModelRequestPart | ModelResponsePart] = message.parts
    return MESSAGE_OVERHEAD_TOKENS + sum(_part_tokens(part, count) for part in parts)


def history_tokens(messages: Sequence[ModelMessage], count: Counter) -> int:
    return sum(message_tokens(message, count) for message in messages)


def _part_tokens(part: ModelRequestPart | ModelResponsePart, count: Counter) -> int:
    if isinstance(part, BaseToolReturnPart):
        return count(part.tool_name) + count(part.model_response_str())
    if isinstance(part, BaseToolCallPart):
        return count(part.tool_name) + count(part.args_as_json_str())
    if isinstance(part, UserPromptPart):
        if isinstance(part.content, str):
            return count(part.content)
        return sum(count(item) if isinstance(item, str) else ATTACHMENT_TOKENS for item in part.content)
    if isinstance(part, RetryPromptPart):
        return count(part.model_response())
    if isinstance(part, SystemPromptPart | TextPart | ThinkingPart):
        return count(part.content)
    return 0


def exchange_starts(messages: Sequence[ModelMessage]) -> list[int]:
    """Indexes where an exchange begins: a request carrying the person's message, with no tool call still open
    before it (a message sent while calls were pending shares its request with their denials)."""
    starts: list[int] = []
    open_calls: set[str] = set()
    for index, message in enumerate(messages):
        if isinstance(message, ModelRequest):
            returned = {p.tool_call_id for p in message.parts if isinstance(p, BaseToolReturnPart | RetryPromptPart)}
            has_prompt = any(isinstance(p, UserPromptPart) for p in message.parts)
            if has_prompt and not open_calls:
                starts.append(index)
            open_calls -= returned
        elif isinstance(message, ModelResponse):
            open_calls |= {p.tool_call_id for p in message.parts if isinstance(p, BaseToolCallPart)}
    return starts


def trim_history(
    messages: Sequence[ModelMessage], budget: int, count: Counter, *, keep_latest_exchange: bool = True
) -> list[ModelMessage]:
    """`messages` cut down to at most `budget` tokens where possible (see the module doc for the order).

    With `keep_latest_exchange=False` (a new message is about to be added) the latest exchange may go too.
    """
    trimmed = list(messages)
    costs = [message_tokens(message, count) for message in trimmed]
    if sum(costs) <= budget:
        return trimmed
    starts = exchange_starts(trimmed)
    protected_from = starts[-1] if keep_latest_exchange and starts else len(trimmed)

    _blank_tool_results(trimmed, costs, range(protected_from), budget, count)
    if sum(costs) > budget:
        drop_until = _oldest_exchanges_to_drop(starts, costs, protected_from, budget)
        del trimmed[:drop_until]
        del costs[:drop_until]
        protected_from -= drop_until
    if sum(costs) > budget:
        _blank_tool_results(trimmed, costs, range(protected_from, len(trimmed)), budget, count)
    return trimmed


def _blank_tool_results(
    messages: list[ModelMessage], costs: list[int], indexes: range, budget: int, count: Counter
) -> None:
    """Replace tool result contents with a note, oldest first, until the total fits."""
    for index in indexes:
        message = messages[index]
        if not isinstance(message, ModelRequest):
            continue
        parts = list(message.parts)
        for position, part in enumerate(parts):
            if sum(costs) <= budget:
                return
            # Plain tool results only (subclasses carry structured framework content, never ours).
            if type(part) is ToolReturnPart and part.content != REMOVED_TOOL_RESULT:
                plain: ToolReturnPart[Any] = part
                parts[position] = replace(plain, content=REMOVED_TOOL_RESULT)
                messages[index] = replace(message, parts=parts)
                costs[index] = message_tokens(messages[index], count)


def _oldest_exchanges_to_drop(starts: list[int], costs: list[int], protected_from: int, budget: int) -> int:
    """How many leading messages to drop: whole exchanges (and anything before the first), oldest first."""
    total = sum(costs)
    boundaries = [start for start in starts if 0 < start <= protected_from]
    if protected_from not in boundaries and protected_from == len(costs):
        boundaries.append(protected_from)
    drop_until = 0
    for boundary in boundaries:
        if total <= budget:
            break
        total -= sum(costs[drop_until:boundary])
        drop_until = boundary
    return drop_until


NOT_RUN = "Not run: the turn stopped before this call."


def close_failed_turn(messages: Sequence[ModelMessage], note: str) -> list[ModelMessage]:
    """The messages of a run that failed, made into a history the next turn can continue from.

    A half-streamed answer is dropped; calls left without a result get a failed one (else the next turn would see
    them as waiting for approval, and providers reject unanswered calls); and the turn ends with `note` as the
    assistant's answer, so a follow-up knows what was asked and that it was not answered.
    """
    closed = list(messages)
    while closed and isinstance(closed[-1], ModelResponse) and closed[-1].state != "complete":
        closed.pop()
    if closed and isinstance(closed[-1], ModelRequest) and closed[-1].state != "complete":
        closed[-1] = replace(closed[-1], state="complete")
    answered = {
        part.tool_call_id
        for message in closed
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, BaseToolReturnPart | RetryPromptPart)
    }
    last_response = next((i for i in range(len(closed) - 1, -1, -1) if isinstance(closed[i], ModelResponse)), None)
    if last_response is not None:
        unanswered = [
            ToolReturnPart(part.tool_name, NOT_RUN, tool_call_id=part.tool_call_id, outcome="failed")
            for part in closed[last_response].parts
            if isinstance(part, BaseToolCallPart) and part.tool_call_id not in answered
        ]
        if unanswered:
            following = closed[last_response + 1] if last_response + 1 < len(closed) else None
            if isinstance(following, ModelRequest):
                closed[last_response + 1] = replace(following, parts=[*following.parts, *unanswered])
            else:
                closed.insert(last_response + 1, ModelRequest(parts=unanswered))
    if closed and isinstance(closed[-1], ModelRequest):
        closed.append(ModelResponse(parts=[TextPart(note)]))
    return closed
