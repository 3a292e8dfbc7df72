"""Each owner's tools, as `server__tool`, swapped per server atomically when a server (re)lists.

Every tool carries its policy state; only `allowed` ones are visible to calls and the agent.
"""

from __future__ import annotations

from dataclasses import replace

import mcp_types as types

from app.domain.names import EXPOSED_TOOL_NAME, exposed_tool_name
from app.domain.owner import Owner
from app.domain.registered_tool import RegisteredTool
from app.domain.text_rules import strip_invisible
from app.domain.tool_policy import StoredDecision, ToolDecision, ToolState


def clean_description(text: str | None, limit: int) -> str:
    """Control and invisible characters removed, capped, so nothing hides in what the model or user reads."""
    cleaned = strip_invisible(text or "")
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def registered_tools(
    server_id: str,
    server_name: str,
    tools: list[types.Tool],
    decisions: list[ToolDecision] | None,
    description_limit: int,
) -> list[RegisteredTool]:
    """A server's listed tools as an owner sees them, each with its policy decision (`decisions` None: no policy in
    force, all allowed). Used for live listings and for the stored catalog alike."""
    by_name = {d.name: d for d in decisions or []}
    seen: set[str] = set()
    entries: list[RegisteredTool] = []
    for tool in tools:
        if tool.name in seen or not EXPOSED_TOOL_NAME.fullmatch(tool.name):
            continue  # duplicates and names an LLM cannot call are skipped, not guessed at
        seen.add(tool.name)
        decision = by_name.get(tool.name)
        if decision is None and decisions is not None:  # a policy is in force: no decision means no
            decision = ToolDecision(tool.name, "denied", "", "no policy decision for this tool", False)
        entries.append(
            RegisteredTool(
                exposed_tool_name(server_name, tool.name),
                server_id,
                server_name,
                tool,
                clean_description(tool.description, description_limit),
                decision.state if decision else "allowed",
                decision.reason if decision else "",
                decision.pin if decision else "",
            )
        )
    return entries


def stored_decision(name: str, pin: str, stored: StoredDecision | None) -> ToolDecision | None:
    """The decision for a catalog tool whose definition has pin `pin`: the stored one when it was made for this very
    definition, held when the definition differs (a decision never covers a definition nobody saw), None if none."""
    if stored is None:
        return None
    if stored.pin != pin:
        return ToolDecision(name, "held", pin, "changed since it was decided", True)
    return ToolDecision(name, stored.state, stored.pin, stored.reason, False)


class ToolRegistry:
    def __init__(self, description_limit: int = 2000) -> None:
        # owner id -> server id -> that server's tools; replacing one inner entry never touches the others.
        self._by_owner: dict[str, dict[str, tuple[RegisteredTool, ...]]] = {}
        self._description_limit = description_limit
        # owner id -> a number that changes whenever that owner's tools may have changed (caches compare it).
        self._generations: dict[str, int] = {}
        self._next_generation = 0

    def generation(self, owner: Owner) -> int:
        return self._generations.get(owner.id, 0)

    def touch(self, owner: Owner) -> None:
        """Something about this owner's servers changed (added, edited, disabled, removed, allowed, denied)."""
        self._next_generation += 1
        self._generations[owner.id] = self._next_generation

    def publish(
        self,
        owner: Owner,
        server_id: str,
        server_name: str,
        tools: list[types.Tool],
        decisions: list[ToolDecision] | None = None,
    ) -> None:
        entries = registered_tools(server_id, server_name, tools, decisions, self._description_limit)
        servers = dict(self._by_owner.get(owner.id, {}))
        servers[server_id] = tuple(entries)
        self._by_owner[owner.id] = servers
        self.touch(owner)

    def set_state(self, owner: Owner, server_id: str, tool_name: str, state: ToolState, reason: str, pin: str) -> None:
        servers = dict(self._by_owner.get(owner.id, {}))
        tools = servers.get(server_id)
        if tools is None:
            return
        servers[server_id] = tuple(
            replace(t, state=state, reason=reason, pin=pin) if t.tool.name == tool_name else t for t in tools
        )
        self._by_owner[owner.id] = servers
        self.touch(owner)

    @property
    def description_limit(self) -> int:
        return self._description_limit

    def owners_with_tools(self) -> int:
        """How many owners have a live listing here (memory follows live servers, not stored ones)."""
        return len(self._by_owner)

    def has(self, owner: Owner, server_id: str) -> bool:
        """Whether the server's live listing is here (it is ready), even if it lists no tools."""
        return server_id in self._by_owner.get(owner.id, {})

    def withdraw(self, owner: Owner, server_id: str) -> None:
        servers = dict(self._by_owner.get(owner.id, {}))
        if servers.pop(server_id, None) is not None:
            if servers:
                self._by_owner[owner.id] = servers
            else:  # nothing live for this owner: nothing kept for them either
                self._by_owner.pop(owner.id, None)
            self.touch(owner)

    def for_owner(self, owner: Owner, *, include_disabled: bool = False) -> list[RegisteredTool]:
        servers = self._by_owner.get(owner.id, {})
        tools = (t for entries in servers.values() for t in entries if include_disabled or t.allowed)
        return sorted(tools, key=lambda t: t.exposed_name)

    def for_server(self, owner: Owner, server_id: str, *, include_disabled: bool = False) -> list[RegisteredTool]:
        entries = self._by_owner.get(owner.id, {}).get(server_id, ())
        return [t for t in entries if include_disabled or t.allowed]

    def find(self, owner: Owner, server_id: str, tool_name: str) -> RegisteredTool | None:
        entries = self._by_owner.get(owner.id, {}).get(server_id, ())
        return next((t for t in entries if t.tool.name == tool_name), None)
