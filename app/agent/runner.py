"""One assistant turn: the pydantic-ai loop over the person's toolbox, yielding `TurnEvent`s as it goes.

A turn starts from the stored history (bytes), and either a new message from the person or their decisions on
calls that waited for approval. It ends with exactly one `TurnDone` (answered, or paused for approval) or one
`TurnFailed` (a clear line for the person; never a stack trace, never the key or the endpoint).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError
from pydantic_ai import (
    Agent,
    AgentRunResultEvent,
    DeferredToolRequests,
    DeferredToolResults,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolDenied,
    UsageLimits,
    capture_run_messages,
)
from pydantic_ai.exceptions import UnexpectedModelBehavior
from pydantic_ai.messages import (
    BaseToolCallPart,
    BaseToolReturnPart,
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelResponse,
    RetryPromptPart,
    ToolCallPart,
)
from pydantic_ai.models import Model
from pydantic_ai.usage import RunUsage

from app.agent.errors import failure_for
from app.agent.events import (
    ApprovalNeeded,
    Decision,
    PendingCall,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnEvent,
    TurnFailed,
)
from app.agent.history import close_failed_turn, history_tokens, trim_history
from app.agent.model_config import ModelConfig
from app.agent.models import build_model, model_settings
from app.agent.tokens import TokenCounter
from app.agent.tool_bridge import ToolBridge
from app.agent.toolbox import ToolBox

log = logging.getLogger(__name__)

SUPERSEDED = "the user sent a new message instead of answering; this call was not run"
# Requests beyond the tool calls: the first one, the final answer, and a few argument-fix retries.
EXTRA_REQUESTS = 5
# Histories up to this size are counted inline (well under a millisecond); longer ones in a worker thread.
INLINE_TRIM_BYTES = 20_000


@dataclass
class _TurnState:
    text: list[str] = field(default_factory=list)
    started: set[str] = field(default_factory=set)
    # Calls that will not run in this turn (waiting for approval, or denied): no "running" step for them.
    held: set[str] = field(default_factory=set)


class AgentRunner:
    """Runs turns against one configured model; safe to share between threads of conversation (no turn state).

    `tokens` counts history tokens for trimming (loaded on the first turn, off the event loop); pass one built with
    a `cache_dir` under the data dir to keep tiktoken's files there.
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        instructions: str,
        model: Model | None = None,
        tokens: TokenCounter | None = None,
    ) -> None:
        self.config = config
        self.tokens = tokens or TokenCounter(config.model)
        self._agent: Agent[None, str | DeferredToolRequests] = Agent(
            model or build_model(config),
            output_type=[str, DeferredToolRequests],
            instructions=instructions,
            model_settings=model_settings(config),
        )

    async def turn(
        self,
        toolbox: ToolBox,
        *,
        history: bytes | None,
        prompt: str | None,
        decisions: dict[str, Decision] | None = None,
    ) -> AsyncGenerator[TurnEvent, None]:
        try:
            messages = list(ModelMessagesTypeAdapter.validate_json(history)) if history else []
        except ValidationError:
            yield TurnFailed("This conversation's stored history could not be read. Start a new thread.", False)
            return
        waiting = unanswered_calls(messages)
        if not waiting and prompt is None:
            yield TurnFailed("There is nothing to answer: no new message and no call waiting for approval.", False)
            return
        if waiting and prompt is None and not all(call.tool_call_id in (decisions or {}) for call in waiting):
            yield TurnFailed("Some calls waiting for approval have no decision yet.", False)
            return
        approvals = _approvals(waiting, decisions or {})
        state = _TurnState(held={call_id for call_id, answer in approvals.items() if answer is not True})
        for call in waiting:
            answer = approvals[call.tool_call_id]
            if isinstance(answer, ToolDenied):
                yield ToolFinished(call.tool_call_id, call.tool_name, "denied", error=answer.message)

        messages = await self._within_budget(messages, history, prompt, keep_latest=bool(waiting) or prompt is None)
        bridge = ToolBridge(toolbox, approved_call_ids=frozenset(k for k, v in approvals.items() if v is True))
        capture = capture_run_messages()
        run_messages = capture.__enter__()
        try:
            async with self._agent.run_stream_events(
                prompt,
                message_history=messages,
                deferred_tool_results=DeferredToolResults(approvals=dict(approvals)) if approvals else None,
                toolsets=[bridge],
                usage_limits=UsageLimits(
                    tool_calls_limit=self.config.max_tool_calls,
                    request_limit=self.config.max_tool_calls + EXTRA_REQUESTS,
                ),
            ) as events:
                async for event in events:
                    if isinstance(event, AgentRunResultEvent):
                        output = event.result.output
                        all_messages = event.result.all_messages()
                        usage = event.result.usage
                        break
                    for turn_event in _translate(event, bridge, state):
                        yield turn_event
                else:
                    raise UnexpectedModelBehavior("the run ended without a result")
        except Exception as error:  # every failure becomes one line for the person (errors.py)
            failure = failure_for(error, self.config)
            kept = close_failed_turn(run_messages, f"(No answer: {failure.message})") if run_messages else None
            yield replace(failure, history=dump_history(kept) if kept is not None else None)
            return
        finally:
            # A turn abandoned by its consumer is closed by the garbage collector in another context, where resetting
            # the capture's context variable raises ValueError; there is nothing left to reset then.
            with contextlib.suppress(ValueError):
                capture.__exit__(None, None, None)
        pending = _pending(output)
        if pending:
            yield ApprovalNeeded(pending)
        yield TurnDone(
            history=dump_history(all_messages),
            text="".join(state.text),
            pending=pending,
            usage=_usage(usage),
        )

    async def _within_budget(
        self, messages: list[ModelMessage], history: bytes | None, prompt: str | None, *, keep_latest: bool
    ) -> list[ModelMessage]:
        if (history is None or len(history) <= INLINE_TRIM_BYTES) and self._fits_in_bytes(messages, prompt):
            return messages  # no tokenizer needed (loading it holds the GIL for a moment: only when it is needed)
        try:
            await self.tokens.load()
        except Exception:
            # Without a tokenizer the history goes untrimmed; the provider still bounds it (context window error).
            log.exception("the tokenizer could not be loaded; history is not trimmed")
            return messages
        if history is not None and len(history) > INLINE_TRIM_BYTES:
            # Counting a long history takes tens of milliseconds: not on the event loop (tiktoken releases the GIL).
            return await asyncio.to_thread(self._trimmed, messages, prompt, keep_latest)
        return self._trimmed(messages, prompt, keep_latest)

    def _fits_in_bytes(self, messages: list[ModelMessage], prompt: str | None) -> bool:
        """Every token stands for at least one byte of UTF-8, so a history whose text (counted in bytes) fits the
        budget fits it in tokens too: most conversations never need the tokenizer."""
        bound = history_tokens(messages, _utf8_bytes) + (_utf8_bytes(prompt) if prompt else 0)
        return bound <= self.config.history_tokens

    def _trimmed(self, messages: list[ModelMessage], prompt: str | None, keep_latest: bool) -> list[ModelMessage]:
        budget = self.config.history_tokens - (self.tokens.count(prompt) if prompt else 0)
        trimmed = trim_history(messages, budget, self.tokens.count, keep_latest_exchange=keep_latest)
        if len(trimmed) != len(messages) and log.isEnabledFor(logging.DEBUG):
            log.debug("history trimmed from %d to %d messages (budget %d tokens)", len(messages), len(trimmed), budget)
        return trimmed


def unanswered_calls(messages: Sequence[ModelMessage]) -> list[ToolCallPart]:
    """Tool calls of the last response that have no result yet: they wait for the person's decision.

    When some calls of that response ran and others wait, the history ends with a request holding the results
    of the ones that ran; pydantic-ai adds the decided ones to it on resume.
    """
    last = next((i for i in range(len(messages) - 1, -1, -1) if isinstance(messages[i], ModelResponse)), None)
    if last is None:
        return []
    answered = {
        part.tool_call_id
        for message in messages[last + 1 :]
        for part in message.parts
        if isinstance(part, BaseToolReturnPart | RetryPromptPart)
    }
    return [
        part for part in messages[last].parts if isinstance(part, ToolCallPart) and part.tool_call_id not in answered
    ]


def dump_history(messages: Sequence[ModelMessage]) -> bytes:
    """The history as stored: without the provider URL pydantic-ai records on each response (a base URL may carry a
    token in its query string, and it is not ours to keep)."""
    scrubbed = [
        replace(message, provider_url=None) if isinstance(message, ModelResponse) else message for message in messages
    ]
    return ModelMessagesTypeAdapter.dump_json(scrubbed)


def _approvals(waiting: list[ToolCallPart], decisions: dict[str, Decision]) -> dict[str, bool | ToolDenied]:
    approvals: dict[str, bool | ToolDenied] = {}
    for call in waiting:
        decision = decisions.get(call.tool_call_id) or Decision(approved=False, reason=SUPERSEDED)
        approvals[call.tool_call_id] = True if decision.approved else ToolDenied(decision.reason)
    return approvals


def _translate(event: object, bridge: ToolBridge, state: _TurnState) -> list[TurnEvent]:
    if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
        # The first piece of a streamed answer comes here, not as a delta (pitfall 13).
        if not event.part.content:
            return []
        separator = "\n\n" if state.text and not state.text[-1].endswith("\n\n") else ""
        return _text(separator + event.part.content, state)
    if isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
        return _text(event.delta.content_delta, state) if event.delta.content_delta else []
    if isinstance(event, FunctionToolCallEvent):
        call_id, name = event.part.tool_call_id, event.part.tool_name
        if call_id in state.held or bridge.needs_approval(name, call_id):
            state.held.add(call_id)
            return []
        state.started.add(call_id)
        return [ToolStarted(call_id, name, _arguments(event.part))]
    if isinstance(event, FunctionToolResultEvent):
        return _finished(event, bridge, state)
    return []


def _text(text: str, state: _TurnState) -> list[TurnEvent]:
    state.text.append(text)
    return [TextDelta(text)]


def _finished(event: FunctionToolResultEvent, bridge: ToolBridge, state: _TurnState) -> list[TurnEvent]:
    part = event.part
    if not isinstance(part, BaseToolReturnPart | RetryPromptPart):
        return []
    call_id = part.tool_call_id
    name = part.tool_name or ""
    if isinstance(part, BaseToolReturnPart) and part.outcome == "denied":
        return []  # already reported before the run, from the person's decision
    outcome = bridge.outcomes.get(call_id)
    events: list[TurnEvent] = []
    if call_id not in state.started:
        events.append(ToolStarted(call_id, name, {}))
    if isinstance(part, BaseToolReturnPart) and part.outcome == "success":
        events.append(
            ToolFinished(
                call_id,
                name,
                "done",
                duration_ms=outcome.duration_ms if outcome else 0,
                truncated_chars=outcome.truncated_chars if outcome else 0,
            )
        )
        return events
    error = outcome.error if outcome and outcome.error else _said_to_model(part)
    events.append(
        ToolFinished(
            call_id,
            name,
            "failed",
            duration_ms=outcome.duration_ms if outcome else 0,
            truncated_chars=outcome.truncated_chars if outcome else 0,
            error=error,
        )
    )
    return events


def _said_to_model(part: BaseToolReturnPart[Any] | RetryPromptPart) -> str:
    text = part.model_response_str(wrap_if_error=False) if isinstance(part, BaseToolReturnPart) else str(part.content)
    return text.strip().splitlines()[0][:300] if text.strip() else "The call failed."


def _arguments(part: BaseToolCallPart[Any]) -> dict[str, Any]:
    try:
        return part.args_as_dict()
    except ValueError:
        return {}


def _pending(output: str | DeferredToolRequests) -> tuple[PendingCall, ...]:
    if not isinstance(output, DeferredToolRequests):
        return ()
    return tuple(PendingCall(call.tool_call_id, call.tool_name, _arguments(call)) for call in output.approvals)


def _usage(usage: RunUsage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "requests": usage.requests,
        "tool_calls": usage.tool_calls,
    }


def _utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))
