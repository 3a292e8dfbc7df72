"""Which of a server's tools may be used: denylist, pins, and what a changed tool list means."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from app.domain.names import EXPOSED_TOOL_NAME
from app.domain.text_rules import has_zero_width_or_bidi

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
        if _RUNS_COMMANDS.search(description) or _CHANGES_FILES.search(description):
            return "its description says it runs commands or changes files"
        return poisoning(tool)


_RUNS_COMMANDS = re.compile(
    r"\b(execute|run|evaluate)s?\s+(a\s+|an\s+|the\s+|any\s+)?(arbitrary\s+)?"
    r"((shell|bash|terminal|system|python|javascript|js|node|ruby|perl|sql)\s+)?(commands?|code|scripts?)\b",
    re.I,
)
_CHANGES_FILES = re.compile(r"\b(delete|overwrite|write)s?\s+(a\s+|the\s+)?files?\b", re.I)
# Text aimed at the model rather than the user: the classic tool-poisoning tells.
_INSTRUCTIONS = re.compile(
    r"<\s*/?\s*(important|system|instructions?|secret)\s*>"
    r"|\bignore\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier|other)\s+(instructions|tools?|rules)"
    r"|\b(do\s+not|don'?t|never)\s+(tell|mention|inform|show)\s+(this\s+to\s+)?the\s+user"
    r"|~/\.ssh|\bid_rsa\b|\.aws/credentials",
    re.I,
)


def poisoning(tool: ToolDefinition) -> str | None:
    """Why the text the model reads about this tool looks like prompt injection, or None."""
    texts = [tool.title or "", tool.description or "", *_strings(tool.input_schema), *_strings(tool.output_schema)]
    for text in texts:
        if match := _INSTRUCTIONS.search(text):
            return f"its description talks to the AI rather than to you ({match.group(0)[:40]!r})"
    if any(has_zero_width_or_bidi(text) for text in texts):
        return "its description hides zero-width or bidi characters"
    return None


def _strings(value: Any, depth: int = 0) -> list[str]:
    """Every string in a JSON schema (property descriptions can carry instructions too), bounded."""
    if depth > 20:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*map(str, value.keys()), *(s for v in value.values() for s in _strings(v, depth + 1))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v, depth + 1)]
    return []


def callable_tools(tools: list[ToolDefinition]) -> list[ToolDefinition]:
    """Tools an LLM can be offered: valid names only, and the first of any duplicated name."""
    seen: set[str] = set()
    kept: list[ToolDefinition] = []
    for tool in tools:
        if tool.name not in seen and EXPOSED_TOOL_NAME.fullmatch(tool.name):
            seen.add(tool.name)
            kept.append(tool)
    return kept


def decide(
    tools: list[ToolDefinition], stored: dict[str, StoredDecision], denylist: Denylist, *, first_listing: bool
) -> list[ToolDecision]:
    """First listing after approval: denylisted tools start denied, the rest allowed.
    Later listings: new tools and tools whose pin changed are held until the owner approves them;
    a new tool on the denylist starts denied."""
    decisions: list[ToolDecision] = []
    for tool in callable_tools(tools):
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


def changed_fields(before: ToolDefinition, after: ToolDefinition) -> list[str]:
    """Which parts of a tool's definition differ, in words for the owner."""
    parts = [
        ("title", before.title, after.title),
        ("description", before.description, after.description),
        ("input schema", before.input_schema, after.input_schema),
        ("output schema", before.output_schema, after.output_schema),
        ("annotations", before.annotations, after.annotations),
    ]
    return [label for label, old, new in parts if old != new]
