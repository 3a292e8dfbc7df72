"""Which of a server's tools may be used: denylist, pins, and what a changed tool list means."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

ToolState = Literal["allowed", "denied", "held"]


@dataclass(frozen=True)
class ToolDefinition:
    """The parts of a tool that decide what the model is told and what it can send."""

    name: str
    title: str | None
    description: str | None
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    annotations: dict[str, Any] | None

    def pin(self) -> str:
        canonical = json.dumps(
            {
                "name": self.name,
                "title": self.title,
                "description": self.description,
                "inputSchema": self.input_schema,
                "outputSchema": self.output_schema,
                "annotations": self.annotations,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class StoredDecision:
    state: ToolState
    pin: str
    reason: str


@dataclass(frozen=True)
class ToolDecision:
    name: str
    state: ToolState
    pin: str
    reason: str
    changed: bool  # held because it is new or its definition changed since it was allowed


class Denylist:
    def __init__(self, patterns: tuple[str, ...]) -> None:
        self._patterns = [re.compile(p, re.IGNORECASE) for p in patterns]

    def match(self, tool: ToolDefinition) -> str | None:
        """Why this tool looks risky, or None. Annotations are ignored: hints never relax a rule."""
        for pattern in self._patterns:
            if pattern.search(tool.name):
                return "its name looks like it runs commands or changes files"
        description = (tool.description or "")[:2000]
        if re.search(
            r"\b(execute|run)s?\s+(arbitrary\s+)?(shell|bash|terminal|system)?\s*commands?\b",
            description,
            re.IGNORECASE,
        ) or re.search(r"\b(delete|overwrite|write)s?\s+(a\s+|the\s+)?files?\b", description, re.IGNORECASE):
            return "its description says it runs commands or changes files"
        return None


def decide(
    tools: list[ToolDefinition], stored: dict[str, StoredDecision], denylist: Denylist, *, first_listing: bool
) -> list[ToolDecision]:
    """First listing after approval: denylisted tools start denied, the rest allowed.
    Later listings: new tools and tools whose pin changed are held until the owner approves them;
    a new tool on the denylist starts denied."""
    decisions: list[ToolDecision] = []
    for tool in tools:
        pin = tool.pin()
        previous = stored.get(tool.name)
        risky = denylist.match(tool)
        if previous is None:
            if risky:
                decisions.append(
                    ToolDecision(tool.name, "denied", pin, f"denylist: {risky}", changed=not first_listing)
                )
            elif first_listing:
                decisions.append(ToolDecision(tool.name, "allowed", pin, "allowed when the server was approved", False))
            else:
                decisions.append(ToolDecision(tool.name, "held", pin, "new tool since you approved this server", True))
        elif previous.state == "allowed" and previous.pin != pin:
            decisions.append(ToolDecision(tool.name, "held", pin, "its definition changed since you allowed it", True))
        elif previous.state == "held":
            decisions.append(ToolDecision(tool.name, "held", pin, previous.reason, previous.pin != pin))
        else:
            decisions.append(
                ToolDecision(
                    tool.name,
                    previous.state,
                    previous.pin if previous.state == "allowed" else pin,
                    previous.reason,
                    False,
                )
            )
    return decisions
