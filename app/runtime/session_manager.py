"""Starts, stops and restarts server actors; the only owner of live MCP sessions.

Servers start lazily (on first use) and live under caps: per owner and in total. A start that finds no room evicts
the least recently used idle server (the owner's own at the per-owner cap); when every live server is busy it waits,
bounded, for one to come free. `reap_idle()` stops servers nobody has used for `idle_seconds`; a call in flight is
never cut. An edited server's new copy starts beside the old one and replaces it once ready (hot restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types

from app.domain.server import ServerDiff, ServerRecord
from app.domain.status import STOPPED, ServerStatus
from app.domain.tool_policy import ToolDecision
from app.runtime.launcher import Launcher
from app.runtime.server_actor import PRODUCTION_CLIENT, ActorTimings, ClientOptions, ServerActor
from app.runtime.tool_registry import ToolRegistry

log = logging.getLogger(__name__)

StatusCallback = Callable[[ServerRecord, ServerStatus], None]
# Decides which listed tools are allowed, denied or held (the tool policy lives above this layer).
ToolGate = Callable[[ServerRecord, list[types.Tool]], Awaitable[list[ToolDecision]]]


@dataclass(frozen=True)
class Capacity:
    """How many servers may run, how long an unused one lives, and how long a start waits for a free slot."""

    max_live_per_owner: int = 10
    max_live_total: int = 200
    idle_seconds: float = 600.0
    busy_wait_seconds: float = 30.0


def busy_message(slots: int) -> str:
    return f"Plugboard is busy: every one of its {slots} server slots is in use; try again in a minute."


@dataclass
class _Usage:
    """When a live server was last used, and how many calls it is answering right now."""

    last_used: float
    in_flight: int = 0


class SessionManager:
    def __init__(
        self,
        launcher: Launcher,
        registry: ToolRegistry,
        timings: ActorTimings,
        *,
        max_live_per_owner: int = 10,
        max_live_total: int = 200,
        tool_gate: ToolGate | None = None,
        client_options: ClientOptions = PRODUCTION_CLIENT,
        idle_seconds: float = 600.0,
        busy_wait_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tool_gate = tool_gate
        self._client_options = client_options
        self._launcher = launcher
        self._capacity = Capacity(max_live_per_owner, max_live_total, idle_seconds, busy_wait_seconds)
        self._clock = clock
        self._refused: dict[str, ServerStatus] = {}
        self._registry = registry
        self._timings = timings
        self._actors: dict[str, ServerActor] = {}
        self._usage: dict[str, _Usage] = {}
        self._calls: dict[ServerActor, int] = {}  # calls in flight per copy: a replaced copy finishes them first
        # A hot restart's new copy, running beside the old one until it settles, and the task that then swaps them.
        self._replacing: dict[str, ServerActor] = {}
        self._swaps: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._status_callbacks: list[StatusCallback] = []
        self._slot_waiters: list[asyncio.Future[None]] = []
        self._reaper: asyncio.Task[None] | None = None

    @property
    def capacity(self) -> Capacity:
        return self._capacity

    def on_status(self, callback: StatusCallback) -> None:
        self._status_callbacks.append(callback)

    def status(self, server_id: str) -> ServerStatus:
        actor = self._actors.get(server_id)
        if actor is None:
            return self._refused.get(server_id, STOPPED)
        return actor.status

    def stderr_tail(self, server_id: str) -> str:
        actor = self._actors.get(server_id)
        return actor.stderr_tail if actor else ""

    def is_live(self, server_id: str) -> bool:
        return server_id in self._actors

    def live_count(self) -> int:
        return len(self._actors)

    def live_ids(self) -> list[str]:
        return list(self._actors)

    def in_flight(self, server_id: str) -> int:
        """Calls the server is answering right now."""
        usage = self._usage.get(server_id)
        return usage.in_flight if usage is not None else 0

    async def apply_diff(self, diff: ServerDiff) -> None:
        """Hot reload: only the servers in the diff are touched, concurrently."""
        await asyncio.gather(
            *(self.stop(server_id) for server_id in diff.stop),
            *(self.restart(record) for record in diff.restart),
            *(self.start(record) for record in diff.start),
        )

    # -- starting ---------------------------------------------------------------------------

    async def start(self, record: ServerRecord) -> None:
        if record.id in self._actors:
            await self.restart(record)
            return
        self._refused.pop(record.id, None)
        if refusal := await self._make_room(record):
            self._refused[record.id] = refusal
            self._status_changed(record, refusal)
            return
        if record.id in self._actors:  # started by someone else while we waited for room
            return
        self._spawn(record)

    async def ensure_started(self, record: ServerRecord, timeout: float) -> ServerStatus:
        """First use: start the server unless it runs, and wait (bounded) until its start settles."""
        if record.id not in self._actors:
            await self.start(record)
        self.touch(record.id)
        return await self.wait_settled(record.id, timeout)

    def touch(self, server_id: str) -> None:
        """Mark the server as just used: it is the last one idle reaping or eviction picks."""
        usage = self._usage.get(server_id)
        if usage is not None:
            usage.last_used = self._clock()

    def _spawn(self, record: ServerRecord) -> ServerActor:
        actor = self._new_actor(record)
        self._actors[record.id] = actor
        self._usage[record.id] = _Usage(self._clock())
        actor.start()
        return actor

    def _new_actor(self, record: ServerRecord) -> ServerActor:
        actor: ServerActor

        def on_status(changed: ServerRecord, status: ServerStatus) -> None:
            if self._actors.get(changed.id) is actor:  # a retired or not yet promoted copy speaks for no one
                self._status_changed(changed, status)

        async def on_tools(changed: ServerRecord, tools: list[types.Tool]) -> None:
            if self._actors.get(changed.id) is actor or self._replacing.get(changed.id) is actor:
                await self._tools_changed(changed, tools)

        actor = ServerActor(record, self._launcher, self._timings, on_status, on_tools, self._client_options)
        return actor

    async def _make_room(self, record: ServerRecord) -> ServerStatus | None:
        """Evict what must go for this start (LRU idle), or wait for a slot; a status says why it cannot start."""
        deadline = anyio.current_time() + self._capacity.busy_wait_seconds  # real time: calls finish in it
        while True:
            if record.id in self._actors:
                return None
            victims: list[ServerActor] = []
            mine = [a for a in self._actors.values() if a.record.owner == record.owner]
            owner_full = len(mine) >= self._capacity.max_live_per_owner
            if owner_full:
                victim = self._least_recently_used(mine)
                if victim is None:
                    limit = self._capacity.max_live_per_owner
                    return ServerStatus(
                        "error", f"your {limit} running servers are all busy; try again when a call has finished"
                    )
                victims.append(victim)
            total_after = len(self._actors) - len(victims)
            if total_after >= self._capacity.max_live_total:
                others = [a for a in self._actors.values() if a not in victims]
                victim = self._least_recently_used(others)
                if victim is not None:
                    victims.append(victim)
                    total_after -= 1
            if total_after < self._capacity.max_live_total:
                for victim in victims:  # the slots are taken from the map now, before anything awaits
                    self._retire(victim)
                await asyncio.gather(*(self._stop_retired(v, reason="evicted") for v in victims))
                return None
            if anyio.current_time() >= deadline:
                return ServerStatus("error", busy_message(self._capacity.max_live_total))
            await self._wait_for_slot(deadline - anyio.current_time())

    def _least_recently_used(self, actors: list[ServerActor]) -> ServerActor | None:
        """The idle one used longest ago: nothing in flight, not in the middle of starting."""
        idle = [a for a in actors if self._is_idle(a)]
        return min(idle, key=lambda a: self._usage[a.record.id].last_used, default=None)

    def _is_idle(self, actor: ServerActor) -> bool:
        usage = self._usage.get(actor.record.id)
        if usage is None or usage.in_flight > 0 or actor.status.state == "starting":
            return False
        return actor.record.id not in self._replacing

    async def _wait_for_slot(self, timeout: float) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(waiter)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, max(timeout, 0))

    def _slot_may_be_free(self) -> None:
        waiters, self._slot_waiters = self._slot_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- restarting --------------------------------------------------------------------------

    async def restart(self, record: ServerRecord) -> None:
        """A ready server's new copy starts beside it and takes its place once it settles (in the background), so
        its tools stay callable; where two copies cannot run at once (the launcher says, e.g. OAuth servers), or the
        old copy is not ready, stop, then start. Like start(), returns without waiting: see wait_settled()."""
        old = self._actors.get(record.id)
        if old is None:
            await self.start(record)
            return
        overlap = self._launcher.copies_can_overlap(record)
        if old.status.state != "ready" or not overlap or record.id in self._replacing:
            await self.stop(record.id)
            await self.start(record)
            return
        new = self._new_actor(record)
        self._replacing[record.id] = new
        new.start()
        swap = asyncio.get_running_loop().create_task(self._swap_when_settled(record, new), name=f"swap:{record.id}")
        self._swaps[record.id] = swap  # cancelled by stop() until the swap is made
        self._background.add(swap)
        swap.add_done_callback(self._background.discard)

    async def _swap_when_settled(self, record: ServerRecord, new: ServerActor) -> None:
        status = await new.wait_settled(self._start_deadline())
        if self._replacing.get(record.id) is not new:  # stopped meanwhile (removed, disabled, app closing)
            return
        del self._replacing[record.id]
        self._swaps.pop(record.id, None)  # from here on the old copy's stop must run to its end
        current = self._actors.get(record.id)
        self._actors[record.id] = new
        self._usage.setdefault(record.id, _Usage(self._clock())).last_used = self._clock()
        # The new copy's tools were published when it listed them; a failed one withdraws them here.
        self._status_changed(record, status)
        if current is not None:
            try:
                await self._drain(current)
            finally:
                await current.stop()

    async def _drain(self, actor: ServerActor) -> None:
        """Let a replaced copy finish the calls it is answering (bounded by the request timeout)."""
        deadline = anyio.current_time() + self._timings.request_timeout
        while self._calls.get(actor, 0) > 0 and anyio.current_time() < deadline:
            await self._wait_for_slot(deadline - anyio.current_time())

    def _start_deadline(self) -> float:
        # Covers a first start's download as well as a normal connect, plus the actor's own retries.
        return max(self._timings.connect_timeout, self._timings.first_start_timeout) + 5

    # -- stopping ----------------------------------------------------------------------------

    def _retire(self, actor: ServerActor) -> None:
        server_id = actor.record.id
        if self._actors.get(server_id) is actor:
            del self._actors[server_id]
            self._usage.pop(server_id, None)

    async def _stop_retired(self, actor: ServerActor, *, reason: str) -> None:
        log.info("stopping %s server %s of %s", reason, actor.record.name, actor.record.owner.id)
        await actor.stop()
        self._registry.withdraw(actor.record.owner, actor.record.id)
        self._status_changed(actor.record, STOPPED)
        self._slot_may_be_free()

    async def refuse(self, record: ServerRecord, reason: str) -> None:
        """The admin policy does not let this server run now: stop it if it runs, and say why in its status."""
        await self.stop(record.id)
        status = ServerStatus("error", reason)
        self._refused[record.id] = status
        self._status_changed(record, status)

    async def stop(self, server_id: str) -> None:
        self._refused.pop(server_id, None)
        if (swap := self._swaps.pop(server_id, None)) is not None:
            swap.cancel()
        replacement = self._replacing.pop(server_id, None)
        actor = self._actors.pop(server_id, None)
        self._usage.pop(server_id, None)
        if replacement is not None:
            await replacement.stop()
        if actor is None:
            return
        await actor.stop()
        self._registry.withdraw(actor.record.owner, server_id)
        self._status_changed(actor.record, STOPPED)
        self._slot_may_be_free()

    async def reap_idle(self) -> list[str]:
        """Stop every server unused for `idle_seconds` with nothing in flight; returns the ids stopped."""
        cutoff = self._clock() - self._capacity.idle_seconds
        stale = [
            actor
            for actor in self._actors.values()
            if self._is_idle(actor) and self._usage[actor.record.id].last_used <= cutoff
        ]
        for actor in stale:
            self._retire(actor)
        await asyncio.gather(*(self._stop_retired(actor, reason="idle") for actor in stale))
        return [actor.record.id for actor in stale]

    def start_reaper(self, interval: float | None = None) -> None:
        """Reap idle servers in the background until close()."""
        if self._reaper is not None:
            return
        every = interval if interval is not None else max(1.0, min(60.0, self._capacity.idle_seconds / 4))

        async def loop() -> None:
            while True:
                await asyncio.sleep(every)
                try:
                    await self.reap_idle()
                except Exception:  # boundary: a failed stop must not end reaping for good
                    log.exception("idle reaping failed")

        self._reaper = asyncio.get_running_loop().create_task(loop(), name="idle-reaper")

    def notice(self, record: ServerRecord) -> str | None:
        """What the owner should hear about this server's state on the host (a full home), if anything.

        Called after every tool call: one statvfs of a mounted local file system, cheaper than a thread hop."""
        return self._launcher.notice(record)

    async def forget(self, record: ServerRecord) -> None:
        """A removed server: stop it, then delete what it kept on the host (its private home)."""
        await self.stop(record.id)
        await asyncio.to_thread(self._launcher.forget, record)

    async def wait_settled(self, server_id: str, timeout: float) -> ServerStatus:
        """Wait (bounded) until the server's start, or its hot restart's new copy, is ready or failed."""
        actor = self._replacing.get(server_id) or self._actors.get(server_id)
        if actor is None:
            return self.status(server_id)
        return await actor.wait_settled(timeout)

    async def call_tool(
        self, server_id: str, tool: str, arguments: dict[str, Any], timeout: float | None = None
    ) -> types.CallToolResult:
        actor = self._actors.get(server_id)
        replacement = self._replacing.get(server_id)
        if replacement is not None and replacement.status.state == "ready":
            actor = replacement  # its tools are the ones published; the swap is a moment away
        if actor is None:
            raise LookupError(server_id)
        async with self._in_flight(server_id, actor):
            return await actor.call_tool(tool, arguments, timeout)

    @contextlib.asynccontextmanager
    async def _in_flight(self, server_id: str, actor: ServerActor) -> AsyncIterator[None]:
        usage = self._usage.get(server_id)  # kept by reference: a server stopped meanwhile keeps no new entry
        if usage is not None:
            usage.in_flight += 1
            usage.last_used = self._clock()
        self._calls[actor] = self._calls.get(actor, 0) + 1
        try:
            yield
        finally:
            if usage is not None:
                usage.in_flight -= 1
                usage.last_used = self._clock()
            self._calls[actor] -= 1
            if not self._calls[actor]:
                del self._calls[actor]
                self._slot_may_be_free()

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
            self._reaper = None
        await asyncio.gather(*(self.stop(server_id) for server_id in {*self._actors, *self._replacing}))
        await asyncio.gather(*self._background, return_exceptions=True)  # old copies finishing their stop
        await asyncio.to_thread(self._launcher.close)

    def _status_changed(self, record: ServerRecord, status: ServerStatus) -> None:
        if status.state != "ready":
            self._registry.withdraw(record.owner, record.id)
        for callback in self._status_callbacks:
            try:
                callback(record, status)
            except Exception:  # boundary: a listener bug must not kill a server actor
                log.exception("status callback failed")

    async def _tools_changed(self, record: ServerRecord, tools: list[types.Tool]) -> None:
        decisions = await self._tool_gate(record, tools) if self._tool_gate else None
        self._registry.publish(record.owner, record.id, record.name, tools, decisions)
