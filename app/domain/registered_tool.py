"""A tool as an owner's registry holds it: its exposed `server__tool` name, the MCP definition, its policy state."""

from __future__ import annotations

from dataclasses import dataclass

import mcp_types as types

from app.domain.tool_policy import ToolState


@dataclass(frozen=True)
class RegisteredTool:
    exposed_name: str
    server_id: str
    server_name: str
    tool: types.Tool
    description: str
    state: ToolState = "allowed"
    reason: str = ""
    pin: str = ""

    @property
    def allowed(self) -> bool:
        return self.state == "allowed"
