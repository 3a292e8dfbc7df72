"""The assistant's turns: one person's message in a thread → the model with that person's tools → an answer
streamed into the thread. Owns the conversation history, pending approvals (kept across restarts) and the
thread's toolset over `ToolService`; the model loop is `app.agent`, the rendering is the Slack edge's `TurnViews`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Literal, Protocol

from app.agent.events import (
    Decision,
    PendingCall,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnFailed,
)
from app.agent.runner import AgentRunner
from app.domain.assistant import (
    ApprovalAsk,
    ApprovalState,
    PendingApproval,
    Step,
    ThreadRef,
    conversation_key,
)
from app.domain.errors import ApprovalClosed, NotYourApproval, PlugboardError
from app.domain.owner import Owner
from app.domain.policy import AssistantPolicy
from app.services.assistant_tools import ConversationTools, ThreadToolBox, TurnContext
from app.services.elicitation_service import ElicitationService
from app.services.tool_policy_service import definition
from app.services.tool_service import ToolService, redacted_preview
from app.services.turn_gate import RecentEvents, TurnGate
from app.store.assistant_approvals import ApprovalModeRepository, ApprovalRepository
from app.store.assistant_threads import Conversation, ConversationRepository

log = logging.getLogger(__name__)

Choice = Literal["once", "always", "deny"]
EXPIRY_SWEEP_SECONDS = 30.0
NOT_CONFIGURED = (
    "The Plugboard assistant is not set up in this workspace yet: an admin needs to configure its model "
    "(`PLUGBOARD_LLM_PROVIDER`, `PLUGBOARD_LLM_MODEL`, `PLUGBOARD_LLM_API_KEY`). "
    "Meanwhile `/mcp run` runs any of your tools from a form."
)
_TOLD_THE_MODEL: dict[ApprovalState, str] = {
    "denied": "the user denied this call",
    "expired": "nobody answered the approval request in time, so this call did not run",
    "superseded": "the user sent a new message instead of answering the approval request, so this call did not run",
}


class TurnView(Protocol):
    """One reply being written into a thread."""

    @property
    def stopped(self) -> bool:
        """The person stopped the reply in Slack: the turn ends."""
        ...

    async def status(self, text: str) -> None: ...

    async def text(self, delta: str) -> None: ...

    async def step(self, step: Step) -> None: ...

    async def failed(self, message: str) -> None: ...

    async def finish(self) -> None: ...


class TurnViews(Protocol):
    """The Slack edge's side: open a reply in a thread, ask for approvals, show what became of one."""

    def open(self, owner: Owner, thread: ThreadRef, *, first_reply: bool) -> TurnView: ...

    def thinking(self, thread: ThreadRef) -> None:
        """Show at once that the message was taken (without waiting for Slack)."""
        ...

    async def ask(self, owner: Owner, thread: ThreadRef, ask: ApprovalAsk) -> str | None:
        """Post one approval request in the thread; its message ts, to update once answered."""
        ...

    async def answered(self, approval: PendingApproval, state: ApprovalState) -> None: ...


class AssistantService:
    def __init__(
        self,
        runner: AgentRunner | None,
        conversations: ConversationRepository,
        approvals: ApprovalRepository,
        modes: ApprovalModeRepository,
        tools: ToolService,
        catalog: ConversationTools,
        policy: AssistantPolicy,
        *,
        elicitation: ElicitationService | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._elicitation = elicitation
        self._runner = runner
        self._conversations = conversations
        self._approvals = approvals
        self._modes = modes
        self._tools = tools
        self._catalog = catalog
        self._policy = policy
        self._clock = clock
        self._gate = TurnGate(turns_per_minute=policy.turns_per_minute, concurrent_turns=policy.concurrent_turns)
        self._recent = RecentEvents()
        self._views: TurnViews | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def configured(self) -> bool:
        return self._runner is not None

    @property
    def answers_in_channels(self) -> bool:
        return self._policy.in_channels

    def render_with(self, views: TurnViews) -> None:
        self._views = views

    async def first_delivery(self, event_id: str) -> bool:
        """For events answered without a turn (a one-line reply): True the first time this event id is seen."""
        return self._recent.first(event_id) and await self._conversations.first_delivery(event_id)

    async def take(self, owner: Owner, thread: ThreadRef, text: str, event_id: str) -> None:
        """A person's message as Slack delivered it: answered once however often Slack retries it. The status goes
        out before anything touches the disk, so the person sees at once that the message was taken."""
        if not self._recent.first(event_id):
            return
        if self._views is not None:
            self._views.thinking(thread)
        if not await self._conversations.first_delivery(event_id):  # taken before a restart
            return
        await self.ask(owner, thread, text, announced=True)

    async def ask(self, owner: Owner, thread: ThreadRef, text: str, *, announced: bool = False) -> None:
        """A person's message: answer it in the thread (after any turn still running there)."""
        self._gate.admit(owner)
        if self._views is not None and not announced:
            self._views.thinking(thread)
        key = conversation_key(owner, thread)
        async with self._gate.turn(owner, key):
            conversation = await self._conversations.get(owner, thread)
            decisions = await self._supersede(conversation.key)
            await self._conversations.save(owner, thread, last_prompt=text)
            await self._run(owner, thread, conversation, prompt=text, decisions=decisions)

    async def retry(self, owner: Owner, thread: ThreadRef) -> None:
        """The Retry button under a failed answer: ask the same again."""
        conversation = await self._conversations.get(owner, thread)
        if conversation.last_prompt is None:
            raise PlugboardError("There is nothing to retry in this thread: send a new message.")
        await self.ask(owner, thread, conversation.last_prompt)

    async def decide(self, clicker: Owner, approval_id: str, choice: Choice, *, clicked_ts: str | None = None) -> None:
        """An Allow once / Always allow / Deny click. Only the asker may answer; a late click finds it expired.
        `clicked_ts` is the message clicked (the request's own, even if its ts was not stored yet)."""
        approval = await self._approvals.get(approval_id)
        if approval is None:
            raise ApprovalClosed("This approval request no longer exists.")
        if approval.owner != clicker:
            raise NotYourApproval(approval.owner.user_id)
        if approval.state != "pending":
            raise ApprovalClosed(f"This request was already answered ({approval.state}).")
        state: ApprovalState = "denied" if choice == "deny" else "approved"
        if approval.expired(self._clock()):
            state = "expired"  # a click after the deadline: the model was (or will be) told it expired
        if not await self._approvals.resolve(approval.id, state):
            raise ApprovalClosed("This request was already answered.")
        if state == "approved" and choice == "always":
            await self._always_allow(approval)
        if approval.message_ts is None and clicked_ts is not None:
            approval = replace(approval, message_ts=clicked_ts)
        await self._answered(approval, state)
        await self._resume_if_complete(approval)

    async def expire_due(self, now: float | None = None) -> int:
        """Approvals nobody answered in time: tell the model so and let the turn finish. Returns how many."""
        expired = 0
        for approval in await self._approvals.due(self._clock() if now is None else now):
            if await self._approvals.resolve(approval.id, "expired"):
                expired += 1
                await self._answered(approval, "expired")
                await self._resume_if_complete(approval)
        return expired

    def start_background(self) -> None:
        if self._runner is not None and self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None

    async def thread_servers(self, owner: Owner, thread: ThreadRef) -> tuple[list[str], tuple[str, ...] | None]:
        """(the person's enabled servers, in load order; the ones this thread may use or None = all). Starts nothing:
        the modal this fills must open within the click's 3-second trigger."""
        names = await self._tools.server_names(owner)
        return names, (await self._conversations.get(owner, thread)).servers

    async def choose_servers(self, owner: Owner, thread: ThreadRef, servers: tuple[str, ...] | None) -> None:
        await self._conversations.set_servers(owner, thread, servers)
        self._catalog.forget(conversation_key(owner, thread))

    async def _run(
        self,
        owner: Owner,
        thread: ThreadRef,
        conversation: Conversation,
        *,
        prompt: str | None,
        decisions: dict[str, Decision] | None,
    ) -> None:
        assert self._runner is not None and self._views is not None, "configured and rendered by the wiring"
        view = self._views.open(owner, thread, first_reply=conversation.history is None)
        turn_context = TurnContext(owner, thread, conversation.key, conversation.servers, view.status, view.step)
        toolbox = ThreadToolBox(self._catalog, self._tools, turn_context, self._elicitation)
        pending: tuple[PendingCall, ...] = ()
        turn = self._runner.turn(toolbox, history=conversation.history, prompt=prompt, decisions=decisions)
        try:
            async for event in turn:
                if view.stopped:
                    break  # the person pressed stop in Slack: end the run, keep nothing of this turn
                if isinstance(event, TextDelta):
                    await view.text(event.text)
                elif isinstance(event, ToolStarted):
                    await view.step(Step(event.call_id, await _shown_name(toolbox, event.tool_name), "running"))
                elif isinstance(event, ToolFinished):
                    step = Step(
                        event.call_id,
                        await _shown_name(toolbox, event.tool_name),
                        "done" if event.status == "done" else event.status,
                        event.duration_ms,
                        event.truncated_chars,
                        event.error,
                    )
                    await view.step(step)
                elif isinstance(event, TurnDone):
                    await self._conversations.save(owner, thread, history=event.history)
                    pending = event.pending
                elif isinstance(event, TurnFailed):
                    if event.history is not None:  # the question and any calls that ran, so a retry repeats none
                        await self._conversations.save(owner, thread, history=event.history)
                    await view.failed(event.message)
        finally:
            await turn.aclose()
            await view.finish()
        if pending:
            await self._ask(owner, thread, conversation.key, toolbox, pending)

    async def _ask(
        self, owner: Owner, thread: ThreadRef, key: str, toolbox: ThreadToolBox, calls: tuple[PendingCall, ...]
    ) -> None:
        assert self._views is not None
        now = self._clock()
        batch = secrets.token_urlsafe(9)
        approvals: list[PendingApproval] = []
        asks: list[ApprovalAsk] = []
        for call in calls:
            offered = await toolbox.find(call.tool_name)
            approval = PendingApproval(
                id=secrets.token_urlsafe(12),
                batch_id=batch,
                conversation=key,
                owner=owner,
                thread=thread,
                call_id=call.call_id,
                tool_name=call.tool_name,
                state="pending",
                created_at=now,
                expires_at=now + self._policy.approval_minutes * 60,
            )
            approvals.append(approval)
            shown = offered.registered.exposed_name if offered else call.tool_name
            reason = (offered.approval_reason if offered else None) or "it needs your approval"
            asks.append(ApprovalAsk(approval.id, shown, redacted_preview(call.arguments, limit=1500), reason))
        await self._approvals.add(approvals)
        for ask in asks:
            message_ts = await self._views.ask(owner, thread, ask)
            if message_ts:
                await self._approvals.set_message([ask.approval_id], message_ts)

    async def _supersede(self, key: str) -> dict[str, Decision] | None:
        """A new message while calls wait for approval: those calls are dropped, and the model is told why."""
        decisions: dict[str, Decision] = {}
        for approval in await self._approvals.pending_in(key):
            if await self._approvals.resolve(approval.id, "superseded"):
                await self._answered(approval, "superseded")
                await self._approvals.claim_batch(approval.batch_id)
                decisions[approval.call_id] = Decision(False, _TOLD_THE_MODEL["superseded"])
        return decisions or None

    async def _resume_if_complete(self, approval: PendingApproval) -> None:
        batch = await self._approvals.batch(approval.batch_id)
        if any(a.state == "pending" for a in batch) or not await self._approvals.claim_batch(approval.batch_id):
            return  # other calls of the same response still wait for an answer, or another click resumed it
        decisions = {a.call_id: Decision(a.state == "approved", _TOLD_THE_MODEL.get(a.state, "")) for a in batch}
        async with self._gate.turn(approval.owner, approval.conversation):
            conversation = await self._conversations.get(approval.owner, approval.thread)
            await self._run(approval.owner, approval.thread, conversation, prompt=None, decisions=decisions)

    async def _always_allow(self, approval: PendingApproval) -> None:
        conversation = await self._conversations.get(approval.owner, approval.thread)
        offer = await self._catalog.offer(approval.owner, conversation.key, conversation.servers)
        offered = offer.get(approval.tool_name)
        if offered is None:
            return  # the tool went away meanwhile: this call still runs once if it comes back
        registered = offered.registered
        pin = definition(registered.tool).pin()
        await self._modes.set(approval.owner, registered.server_id, registered.tool.name, "always", pin)
        self._catalog.forget(conversation.key)

    async def _answered(self, approval: PendingApproval, state: ApprovalState) -> None:
        if self._views is None:
            return
        try:
            await self._views.answered(approval, state)
        except Exception:  # boundary: a failed message update must not lose the decision
            log.exception("could not update the approval message")

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_SWEEP_SECONDS)
            try:
                await self.expire_due()
            except Exception:  # boundary: one bad sweep must not end the sweeper
                log.exception("approval expiry sweep failed")


async def _shown_name(toolbox: ThreadToolBox, model_name: str) -> str:
    """The `server__tool` name the person knows (the model may see a shortened one)."""
    offered = await toolbox.find(model_name)
    return offered.registered.exposed_name if offered else model_name
