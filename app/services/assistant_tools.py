"""A conversation's tools for the model, over `ToolService`: the person's catalog in load order, minus denied and
held tools and servers the thread left out, with model-safe names and a say on which calls need approval.

Every call goes through `ToolService.call`, the same path as `/mcp call` (ownership, policy, pins, caps, audit).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from app.agent.toolbox import AgentTool, ToolRefused, ToolResult
from app.domain.assistant import Step, ThreadRef
from app.domain.errors import PlugboardError
from app.domain.owner import Owner
from app.domain.registered_tool import RegisteredTool
from app.domain.text_rules import strip_invisible
from app.runtime.call_progress import reporting_progress
from app.services.elicitation_service import Conversation, ElicitationService
from app.services.tool_policy_service import ToolPolicyService, definition
from app.services.tool_service import ToolService
from app.store.assistant_approvals import ApprovalModeRepository

MODEL_NAME_LIMIT = 64
CACHED_CONVERSATIONS = 1000
PROGRESS_EVERY_SECONDS = 0.5
StatusCallback = Callable[[str], Awaitable[None]]
StepCallback = Callable[[Step], Awaitable[None]]


def truncate_note(text: str, limit: int = 120) -> str:
    text = strip_invisible(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def model_tool_name(exposed: str) -> str:
    """`server__tool` as the model may call it: at most 64 characters, a longer one cut and given a short hash."""
    if len(exposed) <= MODEL_NAME_LIMIT:
        return exposed
    digest = hashlib.sha256(exposed.encode()).hexdigest()[:8]
    return f"{exposed[: MODEL_NAME_LIMIT - 9]}_{digest}"


@dataclass(frozen=True)
class OfferedTool:
    agent_tool: AgentTool
    registered: RegisteredTool
    # Why the person is asked before each call, or None when it runs straight away.
    approval_reason: str | None = None


@dataclass(frozen=True)
class _Offer:
    generation: int
    tools: dict[str, OfferedTool]


class ConversationTools:
    """Builds and caches each conversation's offer; the cache is dropped when the owner's tools change."""

    def __init__(self, tools: ToolService, policy: ToolPolicyService, modes: ApprovalModeRepository) -> None:
        self._tools = tools
        self._policy = policy
        self._modes = modes
        self._cache: OrderedDict[str, _Offer] = OrderedDict()

    def forget(self, conversation: str) -> None:
        self._cache.pop(conversation, None)

    async def offer(self, owner: Owner, conversation: str, servers: tuple[str, ...] | None) -> dict[str, OfferedTool]:
        generation = self._tools.tools_generation(owner)
        cached = self._cache.get(conversation)
        if cached is not None and cached.generation == generation:
            self._cache.move_to_end(conversation)
            return cached.tools
        modes = await self._modes.for_owner(owner)
        offered: dict[str, OfferedTool] = {}
        for registered in await self._tools.catalog(owner):
            if not registered.allowed or (servers is not None and registered.server_name not in servers):
                continue
            name = model_tool_name(registered.exposed_name)
            if name in offered:
                continue  # two tools cut to the same name: the first in load order wins
            mode, pin = modes.get((registered.server_id, registered.tool.name), (None, ""))
            reason = self._approval_reason(registered, mode, pin)
            offered[name] = OfferedTool(
                AgentTool(
                    name=name,
                    description=registered.description,
                    input_schema=_input_schema(registered),
                    needs_approval=reason is not None,
                ),
                registered,
                reason,
            )
        self._cache[conversation] = _Offer(generation, offered)
        self._cache.move_to_end(conversation)
        while len(self._cache) > CACHED_CONVERSATIONS:
            self._cache.popitem(last=False)
        return offered

    def _approval_reason(self, registered: RegisteredTool, mode: str | None, pin: str) -> str | None:
        if mode == "ask":
            return "you asked to be asked before each call of this tool"
        if mode == "always" and pin == registered.pin:
            return None
        if risk := self._policy.risk_of(definition(registered.tool)):
            return f"it is on the risky-tool list ({risk})"
        annotations = registered.tool.annotations
        if annotations is not None and annotations.destructive_hint:
            return "its server marks it as destructive"
        return None


def _input_schema(registered: RegisteredTool) -> dict[str, Any]:
    schema = registered.tool.model_dump(by_alias=True, exclude_none=True).get("inputSchema") or {}
    return schema if isinstance(schema, dict) else {"type": "object"}


@dataclass(frozen=True)
class TurnContext:
    """Whose turn it is, where, and how to show what a call is doing."""

    owner: Owner
    thread: ThreadRef
    conversation: str
    servers: tuple[str, ...] | None  # the servers this thread may use; None = all
    status: StatusCallback
    step: StepCallback


class ThreadToolBox:
    """The `ToolBox` the model adapter uses for one turn of one conversation."""

    def __init__(
        self,
        catalog: ConversationTools,
        tools: ToolService,
        turn: TurnContext,
        elicitation: ElicitationService | None = None,
    ) -> None:
        self._catalog = catalog
        self._tools = tools
        self._turn = turn
        self._elicitation = elicitation

    async def tools(self) -> list[AgentTool]:
        return [o.agent_tool for o in (await self._offer()).values()]

    async def find(self, name: str) -> OfferedTool | None:
        return (await self._offer()).get(name)

    async def call(self, name: str, arguments: dict[str, Any], *, call_id: str = "") -> ToolResult:
        offered = await self.find(name)
        if offered is None:  # the model named a tool this person does not have (or no longer has)
            raise ToolRefused(f"There is no tool called {name!r} in this conversation.")
        registered = offered.registered
        try:
            if self._tools.is_running(registered.server_id):
                await self._turn.status(f"Calling {registered.exposed_name}…")
            else:  # the call starts it (lazy start): one status, since a quick second one would replace it
                await self._turn.status(f"Starting {registered.server_name} to call {registered.exposed_name}…")
            with ExitStack() as scope:
                # A question the server asks mid-call (elicitation) is asked in this thread, not in a DM.
                if self._elicitation is not None:
                    where = Conversation(self._turn.thread.channel_id, self._turn.thread.thread_ts)
                    scope.enter_context(self._elicitation.asking_in(registered.server_id, where))
                progress = ProgressSteps(self._turn.step, call_id, registered.exposed_name)
                scope.enter_context(reporting_progress(progress))
                scope.callback(progress.close)  # a notification landing after the result must not reopen the step
                outcome = await self._tools.call(
                    self._turn.owner,
                    registered.server_name,
                    registered.tool.name,
                    json.dumps(arguments),
                    for_agent=True,
                    via="assistant",
                    link=self._turn.thread.link,
                )
        except PlugboardError as exc:
            raise ToolRefused(str(exc)) from None
        return ToolResult(
            text=outcome.text,
            is_error=outcome.is_error,
            truncated_chars=outcome.truncated_chars,
            duration_ms=outcome.duration_ms,
        )

    async def _offer(self) -> dict[str, OfferedTool]:
        return await self._catalog.offer(self._turn.owner, self._turn.conversation, self._turn.servers)


class ProgressSteps:
    """A server's progress notifications for one call, shown on that call's step (at most twice a second)."""

    def __init__(self, step: StepCallback, call_id: str, tool_name: str, clock: Callable[[], float] = time.monotonic):
        self._step = step
        self._call_id = call_id
        self._tool_name = tool_name
        self._clock = clock
        self._last = -PROGRESS_EVERY_SECONDS
        self._closed = False

    def close(self) -> None:
        self._closed = True

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        now = self._clock()
        if self._closed or now - self._last < PROGRESS_EVERY_SECONDS or not self._call_id:
            return
        self._last = now
        done = f"{progress / total:.0%}" if total else f"{progress:g}"
        note = truncate_note(f"{done}{' — ' + message if message else ''}")
        await self._step(Step(self._call_id, self._tool_name, "running", note=note))
