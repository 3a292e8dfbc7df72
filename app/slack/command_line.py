"""Parsing `/mcp <subcommand> <rest>`, and the request a subcommand handler receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.owner import Owner


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


@dataclass(frozen=True)
class CommandRequest:
    """One `/mcp` invocation: what was typed, who typed it, and Bolt's ways to answer."""

    command: McpCommand
    owner: Owner
    body: dict[str, Any]
    ack: AsyncAck
    respond: AsyncRespond
    client: AsyncWebClient
