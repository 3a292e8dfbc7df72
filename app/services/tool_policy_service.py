"""The owner's say over tools: the denylist applied from the start, pins, allow/deny, approving held tools."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import mcp_types as types

from app.domain.assistant import ApprovalMode
from app.domain.errors import ConfirmationNeeded, NotYourServer, PlugboardError, ServerNotFound, ToolNotFound
from app.domain.owner import Owner
from app.domain.registered_tool import RegisteredTool
from app.domain.server import ServerRecord
from app.domain.tool_policy import (
    Denylist,
    ToolDecision,
    ToolDefinition,
    ToolState,
    callable_tools,
    changed_fields,
    decide,
)
from app.runtime.tool_registry import ToolRegistry, registered_tools, stored_decision
from app.store.assistant_approvals import ApprovalModeRepository
from app.store.audit_log import AuditLog
from app.store.database import Database
from app.store.server_repository import ServerRepository
from app.store.tool_catalog import ToolCatalog
from app.store.tool_state_repository import ToolStateRepository

log = logging.getLogger(__name__)

# A stored row (never a valid tool name) recording which approved config last listed its tools (its hash as the
# pin): only the first listing after an approval allows new tools without asking, even if that listing was empty.
LISTED_MARKER = "#listed"
PIN_SHOWN = 16  # hex digits of a pin carried by a Slack button


@dataclass(frozen=True)
class HeldChange:
    """One tool the owner must look at: what was decided, and what the definition was before, if known."""

    decision: ToolDecision
    after: ToolDefinition
    before: ToolDefinition | None

    @property
    def fields(self) -> list[str]:
        return changed_fields(self.before, self.after) if self.before else []


class HeldToolsNotifier(Protocol):
    async def tools_held(self, record: ServerRecord, changes: list[HeldChange]) -> None: ...


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
        catalog: ToolCatalog | None = None,
        approval_modes: ApprovalModeRepository | None = None,
    ) -> None:
        self._catalog = catalog
        self._approval_modes = approval_modes
        self._db = db
        self._repo = repo
        self._states = states
        self._registry = registry
        self._audit = audit
        self._denylist = denylist
        self._notifier: HeldToolsNotifier | None = None
        self._background: set[asyncio.Task[None]] = set()
        # The last listing of each server seen by this process, to show what changed across reconnects too.
        self._last_seen: dict[str, dict[str, ToolDefinition]] = {}

    def notify_with(self, notifier: HeldToolsNotifier) -> None:
        self._notifier = notifier

    def risk_of(self, tool: ToolDefinition) -> str | None:
        """Why this tool is on the risky-tool list (the assistant asks before calling one), or None."""
        return self._denylist.match(tool)

    async def evaluate(self, record: ServerRecord, tools: list[types.Tool]) -> list[ToolDecision]:
        """Called by the runtime every time a server lists its tools (connect, reconnect, list_changed),
        before the new list is published: what the registry holds is still the previous listing."""
        stored = await self._states.for_server(record.id)
        marker = stored.pop(LISTED_MARKER, None)
        # Before markers existed, any stored decision meant "listed under the current approval".
        first_listing = not stored if marker is None else marker.pin != record.approved_hash
        definitions = callable_tools([definition(t) for t in tools])
        decisions = decide(definitions, stored, self._denylist, first_listing=first_listing)
        fresh = [
            d
            for d in decisions
            if d.changed and (d.name not in stored or stored[d.name].pin != d.pin or stored[d.name].state != d.state)
        ]
        listed = ToolDecision(LISTED_MARKER, "denied", record.approved_hash, "tools listed for this approval", False)
        await self._states.replace_for_server(record.owner, record.id, [*decisions, listed])
        if self._catalog is not None:
            # The previous listing, from the catalog (across restarts too, and nothing kept in memory per server),
            # then this listing replaces it there for listings while the server is not running.
            before = {t.name: definition(t) for t in await self._catalog.tools_of(record.id)}
            await self._catalog.store(record, [(t, definition(t).pin()) for t in tools])
        else:
            before = self._last_seen.get(record.id, {})
            self._last_seen[record.id] = {d.name: d for d in definitions}
        if fresh:
            async with self._db.transaction() as conn:
                await self._audit.append(
                    conn,
                    owner=record.owner,
                    action="tools_held",
                    server_name=record.name,
                    detail={"tools": {d.name: {"state": d.state, "pin": d.pin, "reason": d.reason} for d in fresh}},
                )
            by_name = {d.name: d for d in definitions}
            changes = [HeldChange(d, by_name[d.name], before.get(d.name)) for d in fresh]
            if self._notifier is not None:
                task = asyncio.create_task(self._notify(record, changes))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        return decisions

    async def _notify(self, record: ServerRecord, changes: list[HeldChange]) -> None:
        assert self._notifier is not None
        try:
            await self._notifier.tools_held(record, changes)
        except Exception:  # boundary: a failed DM must not break the server's tool listing
            log.exception("could not tell %s about held tools", record.owner.id)

    async def allow(
        self, owner: Owner, server_name: str, tool_name: str, *, confirmed: bool, pin_shown: str | None = None
    ) -> RegisteredTool:
        """`confirmed` is the owner's second yes for a risky tool, given for the definition `pin_shown`."""
        record, tool = await self._tool(owner, server_name, tool_name)
        current = definition(tool.tool)
        risky = self._denylist.match(current)
        if risky and not confirmed:
            message = f"`{server_name}__{tool_name}` is on the risky-tool list ({risky})."
            raise ConfirmationNeeded(message, current.pin())
        if pin_shown is not None and not (pin_shown and current.pin().startswith(pin_shown)):
            raise PlugboardError(
                f"`{server_name}__{tool_name}` changed after you were asked; run `/mcp allow` again to see it."
            )
        await self._set(record, tool, "allowed", "allowed by you" + (" despite the risky-tool list" if risky else ""))
        await self._set_mode(record, tool, None)  # a plain allow ends "ask first"
        return tool

    async def ask_first(self, owner: Owner, server_name: str, tool_name: str) -> RegisteredTool:
        """`/mcp ask`: the assistant asks before every call of this (allowed) tool."""
        record, tool = await self._tool(owner, server_name, tool_name)
        if not tool.allowed:
            exposed = f"{server_name}__{tool_name}"
            raise PlugboardError(f"`{exposed}` is {tool.state}; allow it first with `/mcp allow {exposed}`.")
        await self._set_mode(record, tool, "ask")
        return tool

    async def _set_mode(self, record: ServerRecord, tool: RegisteredTool, mode: ApprovalMode | None) -> None:
        if self._approval_modes is None:
            return
        current = (await self._approval_modes.for_owner(record.owner)).get((record.id, tool.tool.name))
        if mode is None and (current is None or current[0] != "ask"):
            return  # nothing to clear ("always" from the assistant's button stays: it is also a yes)
        pin = definition(tool.tool).pin()
        await self._approval_modes.set(record.owner, record.id, tool.tool.name, mode, pin)
        self._registry.touch(record.owner)
        async with self._db.transaction() as conn:
            await self._audit.append(
                conn,
                owner=record.owner,
                action="tool_ask_first" if mode == "ask" else "tool_ask_cleared",
                server_name=record.name,
                detail={"tool": tool.tool.name, "pin": pin},
            )

    async def deny(self, owner: Owner, server_name: str, tool_name: str) -> RegisteredTool:
        record, tool = await self._tool(owner, server_name, tool_name)
        await self._set(record, tool, "denied", "denied by you")
        return tool

    async def decide_held(
        self, owner: Owner, server_id: str, shown: dict[str, str], *, approve: bool
    ) -> tuple[list[str], list[str]]:
        """The owner's answer to a held-tools DM. `shown` maps each tool to the pin (prefix) the DM showed.

        Returns (decided, skipped): a tool that changed again since the DM, or is no longer held, is skipped:
        approving must never cover a definition the owner has not seen."""
        record = await self._repo.get(server_id)
        if record is None:
            raise ServerNotFound(server_id[:12])
        if record.owner != owner:
            await self._audit.record_denied(
                owner=record.owner,
                actor=owner,
                server_name=record.name,
                reason="not the owner",
                action="held tools decision",
            )
            raise NotYourServer()
        decided: list[str] = []
        skipped: list[str] = []
        for name, pin_shown in shown.items():
            tool = await self._find(record, name)
            if tool is None or tool.state != "held" or not pin_shown or not tool.pin.startswith(pin_shown):
                skipped.append(name)
                continue
            await self._set(
                record,
                tool,
                "allowed" if approve else "denied",
                "approved by you after a change" if approve else "kept disabled by you",
            )
            decided.append(name)
        return decided, skipped

    async def forget_server(self, server_id: str) -> None:
        self._last_seen.pop(server_id, None)
        await self._states.delete_server(server_id)
        if self._catalog is not None:
            await self._catalog.forget(server_id)

    async def _tool(self, owner: Owner, server_name: str, tool_name: str) -> tuple[ServerRecord, RegisteredTool]:
        record = await self._repo.get_by_name(owner, server_name)
        if record is None:
            raise ServerNotFound(server_name)
        tool = await self._find(record, tool_name)
        if tool is None:
            raise ToolNotFound(server_name, tool_name)
        return record, tool

    async def _find(self, record: ServerRecord, tool_name: str) -> RegisteredTool | None:
        """The tool from the live listing, or from the stored catalog while the server is not running."""
        tool = self._registry.find(record.owner, record.id, tool_name)
        if tool is not None or self._catalog is None or self._registry.has(record.owner, record.id):
            return tool
        listed = [t for t in await self._catalog.tools_of(record.id) if t.name == tool_name]
        stored = (await self._states.for_server(record.id)).get(tool_name)
        decision = stored_decision(tool_name, definition(listed[0]).pin(), stored) if listed else None
        if decision is None:
            return None
        found = registered_tools(record.id, record.name, listed, [decision], self._registry.description_limit)
        return found[0] if found else None

    async def _set(self, record: ServerRecord, tool: RegisteredTool, state: ToolState, reason: str) -> None:
        pin = definition(tool.tool).pin()
        await self._states.set_state(record.owner, record.id, tool.tool.name, state, pin, reason)
        self._registry.set_state(record.owner, record.id, tool.tool.name, state, reason, pin)
        async with self._db.transaction() as conn:
            await self._audit.append(
                conn,
                owner=record.owner,
                action=f"tool_{state}",
                server_name=record.name,
                detail={"tool": tool.tool.name, "pin": pin, "reason": reason},
            )
