"""What a server is doing right now, as shown to its owner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

State = Literal["stopped", "starting", "ready", "error", "needs_auth"]


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
        return self.detail or "stopped"


STOPPED = ServerStatus("stopped")
DISABLED = ServerStatus("stopped", "disabled")
