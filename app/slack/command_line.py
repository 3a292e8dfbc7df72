"""Parsing `/mcp <subcommand> <rest>`, and the request a subcommand handler receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.names import exposed_tool_name, split_exposed_tool_name
from app.domain.owner import Owner
from app.slack.reply import Reply


@dataclass(frozen=True)
class McpCommand:
    name: str
    rest: str

    @property
    def words(self) -> list[str]:
        return self.rest.split()


@dataclass(frozen=True)
class ToolReference:
    """A tool named on the command line, and whatever follows it (the JSON arguments of `/mcp call`)."""

    server: str
    tool: str
    rest: str = ""

    @property
    def exposed(self) -> str:
        return exposed_tool_name(self.server, self.tool)


def parse_tool_reference(text: str) -> ToolReference | None:
    """`server__tool …` (the one word listings show) or `server tool …`; None when no tool is named.

    Server names cannot contain `__`, so the first `__` of a single word always separates server and tool."""
    first = text.split(None, 1)
    if not first:
        return None
    if (exposed := split_exposed_tool_name(first[0])) is not None:
        return ToolReference(*exposed, first[1] if len(first) > 1 else "")
    parts = text.split(None, 2)
    if len(parts) < 2:
        return None
    return ToolReference(parts[0], parts[1], parts[2] if len(parts) > 2 else "")


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

    @property
    def reply(self) -> Reply:
        """The invoking conversation (through response_url), for answers sent after the ack."""
        return Reply(self.client, self.owner, self.body.get("response_url"))
