"""Parsing `/mcp <subcommand> <rest>` (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class McpCommand:
    name: str
    rest: str

    @property
    def words(self) -> list[str]:
        return self.rest.split()


def parse_command(text: str) -> McpCommand:
    stripped = (text or "").strip()
    name, _, rest = stripped.partition(" ")
    if "\n" in name:
        name, _, more = name.partition("\n")
        rest = more + " " + rest
    return McpCommand(name.lower() or "help", rest.strip())
