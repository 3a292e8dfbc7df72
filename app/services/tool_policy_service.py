"""The owner's say over tools: the denylist applied from the start, pins, allow/deny, approving held tools."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import mcp_types as types

from app.domain.errors import PlugboardError, ServerNotFound
from app.domain.owner import Owner
from app.domain.server import ServerRecord
from app.domain.tool_policy import Denylist, ToolDecision, ToolDefinition, decide
from app.runtime.tool_registry import RegisteredTool, ToolRegistry
from app.store.audit_log import AuditLog
from app.store.database import Database
from app.store.server_repository import ServerRepository
from app.store.tool_state_repository import ToolStateRepository

log = logging.getLogger(__name__)


class HeldToolsNotifier(Protocol):
    async def tools_held(self, record: ServerRecord, decisions: list[ToolDecision]) -> None: ...


class ConfirmationNeeded(PlugboardError):
    """Allowing this tool needs an explicit second yes (it is on the risky-tool denylist)."""


class ToolNotFound(PlugboardError):
    def __init__(self, server: str, tool: str) -> None:
        super().__init__(f"`{server}` offers no tool `{tool}` right now. Try `/mcp tools {server}`.")


def definition(tool: types.Tool) -> ToolDefinition:
    dumped: dict[str, Any] = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    return ToolDefinition(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=dumped.get("inputSchema", {}),
        output_schema=dumped.get("outputSchema"),
        annotations=dumped.get("annotations"),
    )


class ToolPolicyService:
    def __init__(
        self,
        db: Database,
        repo: ServerRepository,
        states: ToolStateRepository,
        registry: ToolRegistry,
        audit: AuditLog,
        denylist: Denylist,
    ) -> None:
        self._db = db
        self._repo = repo
        self._states = states
        self._registry = registry
        self._audit = audit
        self._denylist = denylist
        self._notifier: HeldToolsNotifier | None = None
        self._background: set[asyncio.Task[None]] = set()

    def notify_with(self, notifier: HeldToolsNotifier) -> None:
        self._notifier = notifier

    async def evaluate(self, record: ServerRecord, tools: list[types.Tool]) -> list[ToolDecision]:
        """Called by the runtime every time a server lists its tools (connect, reconnect, list_changed)."""
        stored = await self._states.for_server(record.id)
        decisions = decide([definition(t) for t in tools], stored, self._denylist, first_listing=not stored)
        fresh = [
            d
            for d in decisions
            if d.changed and (d.name not in stored or stored[d.name].pin != d.pin or stored[d.name].state != d.state)
        ]
        await self._states.replace_for_server(record.owner, record.id, decisions)
        if fresh:
            async with self._db.transaction() as conn:
                await self._audit.append(
                    conn,
                    owner=record.owner,
                    action="tools_held",
                    server_name=record.name,
                    detail={"tools": {d.name: {"state": d.state, "pin": d.pin} for d in fresh}},
                )
            if self._notifier is not None:
                task = asyncio.create_task(self._notify(record, fresh))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        return decisions

    async def _notify(self, record: ServerRecord, decisions: list[ToolDecision]) -> None:
        assert self._notifier is not None
        try:
            await self._notifier.tools_held(record, decisions)
        except Exception:  # boundary: a failed DM must not break the server's tool listing
            log.exception("could not tell %s about held tools", record.owner.id)

    async def allow(self, owner: Owner, server_name: str, tool_name: str, *, confirmed: bool) -> RegisteredTool:
        record, tool = await self._tool(owner, server_name, tool_name)
        risky = self._denylist.match(definition(tool.tool))
        if risky and not confirmed:
            raise ConfirmationNeeded(f"`{server_name}__{tool_name}` is on the risky-tool list ({risky}).")
        await self._set(record, tool, "allowed", "allowed by you" + (" despite the denylist" if risky else ""))
        return tool

    async def deny(self, owner: Owner, server_name: str, tool_name: str) -> RegisteredTool:
        record, tool = await self._tool(owner, server_name, tool_name)
        await self._set(record, tool, "denied", "denied by you")
        return tool

    async def decide_held(self, owner: Owner, server_id: str, tool_names: list[str], *, approve: bool) -> list[str]:
        """The owner's answer to a held-tools DM; only tools still held (with any pin) are changed."""
        record = await self._repo.get(server_id)
        if record is None or record.owner != owner:
            raise ServerNotFound(server_id[:12])
        changed: list[str] = []
        for name in tool_names:
            tool = self._registry.find(owner, server_id, name)
            if tool is None or tool.state != "held":
                continue
            await self._set(
                record,
                tool,
                "allowed" if approve else "denied",
                "approved by you after a change" if approve else "kept disabled by you",
            )
            changed.append(name)
        return changed

    async def forget_server(self, server_id: str) -> None:
        await self._states.delete_server(server_id)

    async def _tool(self, owner: Owner, server_name: str, tool_name: str) -> tuple[ServerRecord, RegisteredTool]:
        record = await self._repo.get_by_name(owner, server_name)
        if record is None:
            raise ServerNotFound(server_name)
        tool = self._registry.find(owner, record.id, tool_name)
        if tool is None:
            raise ToolNotFound(server_name, tool_name)
        return record, tool

    async def _set(self, record: ServerRecord, tool: RegisteredTool, state: str, reason: str) -> None:
        pin = definition(tool.tool).pin()
        await self._states.set_state(record.owner, record.id, tool.tool.name, state, pin, reason)
        self._registry.set_state(record.owner, record.id, tool.tool.name, state, reason, pin)  # type: ignore[arg-type]
        async with self._db.transaction() as conn:
            await self._audit.append(
                conn,
                owner=record.owner,
                action=f"tool_{state}",
                server_name=record.name,
                detail={"tool": tool.tool.name, "pin": pin},
            )
