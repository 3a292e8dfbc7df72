"""What the model adapter needs from whoever owns the tools: a list to offer, and a way to call one.

The assistant service implements `ToolBox` over `ToolService`, so every call the model makes passes the same
ownership, policy, pin, guardrail and audit checks as `/mcp call`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class AgentTool:
    """One tool as the model sees it. `name` is already model-safe (`[A-Za-z0-9_-]`, at most 64 characters)."""

    name: str
    description: str
    input_schema: dict[str, Any]
    # Ask the person before this call runs (an allowed risky tool, a destructive one, or one marked "ask").
    needs_approval: bool = False


@dataclass(frozen=True)
class ToolResult:
    """What a call gave back, already capped for the model (the cut is noted in `text` itself)."""

    text: str
    is_error: bool = False
    truncated_chars: int = 0
    duration_ms: int = 0
    # Anything app-side the renderer may use (never sent to the model).
    metadata: dict[str, Any] = field(default_factory=dict)


class ToolRefused(Exception):
    """The call cannot be made (unknown tool, not allowed, server not running): the model is told `message`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ToolBox(Protocol):
    async def tools(self) -> list[AgentTool]:
        """The tools for the next model request; asked again before every request, so hot reloads show."""
        ...

    async def call(self, name: str, arguments: dict[str, Any], *, call_id: str = "") -> ToolResult:
        """Run one tool (arguments already checked against its schema). Raises `ToolRefused`. `call_id` is the
        model's id of this call, for showing its progress on the right step."""
        ...
