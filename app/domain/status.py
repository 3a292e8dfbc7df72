"""What a server is doing right now, as shown to its owner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# idle: stored and enabled but not running (servers start on first use); never a runtime state.
State = Literal["stopped", "starting", "ready", "error", "needs_auth", "idle"]


@dataclass(frozen=True)
class ServerStatus:
    state: State
    detail: str = ""
    tool_count: int = 0

    def label(self) -> str:
        if self.state == "ready":
            return f"ready — {self.tool_count} tool{'s' if self.tool_count != 1 else ''}"
        if self.state == "error":
            return f"error — {self.detail}" if self.detail else "error"
        if self.state == "needs_auth":
            return "needs re-authentication"
        if self.state == "starting":
            return "starting…"
        if self.state == "idle":
            if self.detail:  # never listed its tools yet
                return f"idle — {self.detail}"
            return f"idle — {self.tool_count} tool{'s' if self.tool_count != 1 else ''}, starts on first use"
        return self.detail or "stopped"


STOPPED = ServerStatus("stopped")
DISABLED = ServerStatus("stopped", "disabled")


def idle(tool_count: int | None) -> ServerStatus:
    """A stored, enabled server that is not running; `tool_count` from its last listing (None: never listed)."""
    if tool_count is None:
        return ServerStatus("idle", "starts on first use")
    return ServerStatus("idle", tool_count=tool_count)
