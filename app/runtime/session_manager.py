"""Starts, stops and restarts server actors; the only owner of live MCP sessions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

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
    ) -> None:
        self._tool_gate = tool_gate
        self._client_options = client_options
        self._launcher = launcher
        self._max_live_per_owner = max_live_per_owner
        self._max_live_total = max_live_total
        self._refused: dict[str, ServerStatus] = {}
        self._registry = registry
        self._timings = timings
        self._actors: dict[str, ServerActor] = {}
        self._status_callbacks: list[StatusCallback] = []

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

    async def apply(self, diff: ServerDiff) -> None:
        """Hot reload: only the servers in the diff are touched, concurrently."""
        await asyncio.gather(
            *(self.stop(server_id) for server_id in diff.stop),
            *(self.restart(record) for record in diff.restart),
            *(self.start(record) for record in diff.start),
        )

    async def start(self, record: ServerRecord) -> None:
        if record.id in self._actors:
            await self.restart(record)
            return
        if refusal := self._cap_refusal(record):
            self._refused[record.id] = refusal
            self._status_changed(record, refusal)
            return
        self._refused.pop(record.id, None)
        actor = ServerActor(
            record, self._launcher, self._timings, self._status_changed, self._tools_changed, self._client_options
        )
        self._actors[record.id] = actor
        actor.start()

    async def restart(self, record: ServerRecord) -> None:
        await self.stop(record.id)
        await self.start(record)

    def _cap_refusal(self, record: ServerRecord) -> ServerStatus | None:
        if len(self._actors) >= self._max_live_total:
            return ServerStatus("error", f"Plugboard is running its maximum of {self._max_live_total} servers")
        mine = sum(1 for a in self._actors.values() if a.record.owner == record.owner)
        if mine >= self._max_live_per_owner:
            return ServerStatus(
                "error", f"you already have {self._max_live_per_owner} servers running; disable one first"
            )
        return None

    async def refuse(self, record: ServerRecord, reason: str) -> None:
        """The admin policy does not let this server run now: stop it if it runs, and say why in its status."""
        await self.stop(record.id)
        status = ServerStatus("error", reason)
        self._refused[record.id] = status
        self._status_changed(record, status)

    async def stop(self, server_id: str) -> None:
        self._refused.pop(server_id, None)
        actor = self._actors.pop(server_id, None)
        if actor is None:
            return
        await actor.stop()
        self._registry.withdraw(actor.record.owner, server_id)

    def notice(self, record: ServerRecord) -> str | None:
        """What the owner should hear about this server's state on the host (a full home), if anything.

        Called after every tool call: one statvfs of a mounted local file system, cheaper than a thread hop."""
        return self._launcher.notice(record)

    async def forget(self, record: ServerRecord) -> None:
        """A removed server: stop it, then delete what it kept on the host (its private home)."""
        await self.stop(record.id)
        await asyncio.to_thread(self._launcher.forget, record)

    async def wait_settled(self, server_id: str, timeout: float) -> ServerStatus:
        actor = self._actors.get(server_id)
        if actor is None:
            return self.status(server_id)
        return await actor.wait_settled(timeout)

    async def call_tool(
        self, server_id: str, tool: str, arguments: dict[str, Any], timeout: float | None = None
    ) -> types.CallToolResult:
        actor = self._actors.get(server_id)
        if actor is None:
            raise LookupError(server_id)
        return await actor.call_tool(tool, arguments, timeout)

    async def close(self) -> None:
        await asyncio.gather(*(self.stop(server_id) for server_id in list(self._actors)))
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
