"""Each owner's tools, as `server__tool`, swapped per server atomically when a server (re)lists."""

from __future__ import annotations

from dataclasses import dataclass

import mcp_types as types

from app.domain.names import EXPOSED_TOOL_NAME, exposed_tool_name
from app.domain.owner import Owner


@dataclass(frozen=True)
class RegisteredTool:
    exposed_name: str
    server_id: str
    server_name: str
    tool: types.Tool


class ToolRegistry:
    def __init__(self) -> None:
        # owner id -> server id -> that server's tools; replacing one inner entry never touches the others.
        self._by_owner: dict[str, dict[str, tuple[RegisteredTool, ...]]] = {}

    def publish(self, owner: Owner, server_id: str, server_name: str, tools: list[types.Tool]) -> None:
        seen: set[str] = set()
        entries: list[RegisteredTool] = []
        for tool in tools:
            if tool.name in seen or not EXPOSED_TOOL_NAME.fullmatch(tool.name):
                continue  # duplicates and names an LLM cannot call are skipped, not guessed at
            seen.add(tool.name)
            entries.append(RegisteredTool(exposed_tool_name(server_name, tool.name), server_id, server_name, tool))
        servers = dict(self._by_owner.get(owner.id, {}))
        servers[server_id] = tuple(entries)
        self._by_owner[owner.id] = servers

    def withdraw(self, owner: Owner, server_id: str) -> None:
        servers = dict(self._by_owner.get(owner.id, {}))
        if servers.pop(server_id, None) is not None:
            self._by_owner[owner.id] = servers

    def for_owner(self, owner: Owner) -> list[RegisteredTool]:
        servers = self._by_owner.get(owner.id, {})
        return sorted((t for tools in servers.values() for t in tools), key=lambda t: t.exposed_name)

    def for_server(self, owner: Owner, server_id: str) -> list[RegisteredTool]:
        return list(self._by_owner.get(owner.id, {}).get(server_id, ()))

    def find(self, owner: Owner, server_id: str, tool_name: str) -> RegisteredTool | None:
        return next((t for t in self.for_server(owner, server_id) if t.tool.name == tool_name), None)
