"""`/mcp …`: acknowledge at once, then open a modal or answer ephemerally."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.errors import PlugboardError
from app.domain.owner import Owner
from app.domain.remote_config import RemoteServerConfig
from app.domain.server_map import parse_server_map
from app.services.server_service import ServerService
from app.services.tool_service import ToolService
from app.slack.blocks.confirmation import confirmation_blocks, confirmation_text
from app.slack.blocks.help import help_blocks, help_text
from app.slack.blocks.server_form import build_server_modal, local_only
from app.slack.blocks.server_list import remove_prompt_blocks, server_list_blocks
from app.slack.blocks.tools import outcome_blocks, tools_blocks
from app.slack.command_line import McpCommand, parse_command
from app.slack.confirm_flow import ConfirmFlow
from app.slack.connect import ConnectFlow
from app.slack.download import ConfigDownload
from app.slack.reply import Reply
from app.slack.requester import owner_from_body
from app.slack.text import code, escape
from app.slack.tool_commands import ToolCommands
from app.slack.upload import UploadFlow

log = logging.getLogger(__name__)

Handler = Callable[[McpCommand, Owner, dict[str, Any], AsyncAck, AsyncRespond, AsyncWebClient], Awaitable[None]]


def _text_blocks(text: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]


class McpCommands:
    def __init__(
        self,
        servers: ServerService,
        tools: ToolService,
        confirm: ConfirmFlow,
        tool_commands: ToolCommands,
        connect: ConnectFlow,
        upload: UploadFlow,
        download: ConfigDownload,
    ) -> None:
        self._connect = connect
        self._servers = servers
        self._tools = tools
        self._confirm = confirm
        self._tool_commands = tool_commands
        self._handlers: dict[str, Handler] = {
            "help": self._help,
            "list": self._list,
            "add": self._add,
            "add-json": self._add_json,
            "edit": self._edit,
            "remove": self._remove,
            "enable": self._enable,
            "disable": self._disable,
            "tools": self._list_tools,
            "reload": self._reload,
            "call": self._call,
            "allow": self._allow,
            "deny": self._deny,
            "audit": self._audit,
            "connect": self._open_connect,
            "upload": upload.open,
            "download": download.download,
        }

    async def handle(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        command = parse_command(body.get("text", ""))
        owner = owner_from_body(body)
        handler = self._handlers.get(command.name)
        if handler is None:
            intro = f"I don't know `/mcp {escape(command.name[:40])}`. Here is what I can do:"
            await ack(text=help_text(), blocks=help_blocks(intro), response_type="ephemeral")
            return
        try:
            await handler(command, owner, body, ack, respond, client)
        except PlugboardError as exc:
            await _answer(ack, respond, f":x: {escape(str(exc))}")

    async def _help(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack(text=help_text(), blocks=help_blocks(), response_type="ephemeral")

    async def _list(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        items = await self._servers.overview(owner)
        await respond(
            text=f"You have {len(items)} MCP server(s).", blocks=server_list_blocks(items), response_type="ephemeral"
        )

    async def _add(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        metadata = {"response_url": body.get("response_url", "")}
        await client.views_open(trigger_id=body["trigger_id"], view=build_server_modal(metadata=metadata))

    async def _add_json(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        configs = parse_server_map(command.rest)  # pure and fast: errors go straight back in the ack
        await ack()
        proposed = [await self._servers.propose_add(owner, name, config) for name, config in configs.items()]
        changes = [(change, self._servers.conditions(change.config)) for change in proposed]
        await respond(text=confirmation_text(changes), blocks=confirmation_blocks(changes), response_type="ephemeral")

    async def _edit(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        name = _one_name(command, "edit")
        await ack()
        item = await self._servers.get(owner, name)
        if isinstance(item.record.config, RemoteServerConfig):
            await self._connect.open_edit(
                client,
                body["trigger_id"],
                body.get("response_url", ""),
                item.record.id,
                item.record.name,
                item.record.config,
            )
            return
        metadata = {"server_id": item.record.id, "response_url": body.get("response_url", "")}
        view = build_server_modal(metadata=metadata, name=item.record.name, config=local_only(item.record.config))
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def _remove(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        name = _one_name(command, "remove")
        await ack()
        item = await self._servers.get(owner, name)
        await respond(text=f"Remove {name}?", blocks=remove_prompt_blocks(item), response_type="ephemeral")

    async def _enable(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        name = _one_name(command, "enable")
        await ack()
        item = await self._servers.get(owner, name)
        record = await self._servers.set_enabled(owner, item.record.id, True)
        reply = Reply(client, owner, body.get("response_url"))
        await self._confirm.report(reply, [record], [], title=f"Enabled {name}")

    async def _disable(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        name = _one_name(command, "disable")
        await ack()
        item = await self._servers.get(owner, name)
        await self._servers.set_enabled(owner, item.record.id, False)
        await respond(
            text=f"Disabled {name}.",
            blocks=_text_blocks(
                f"{code(name)} is disabled and its process stopped. `/mcp enable {escape(name)}` starts it again."
            ),
            response_type="ephemeral",
        )

    async def _list_tools(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        if command.words:
            name = command.words[0]
            tools = await self._tools.tools_of(owner, name)
            overview = await self._servers.get(owner, name)
            empty = f"{code(name)} has no tools right now ({escape(overview.status.label())})."
        else:
            tools = self._tools.all_tools(owner)
            empty = "None of your servers is offering tools right now. See `/mcp list`."
        await respond(text=f"{len(tools)} tool(s)", blocks=tools_blocks(tools, empty=empty), response_type="ephemeral")

    async def _reload(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        name = command.words[0] if command.words else None
        await ack()
        records = await self._servers.reload(owner, name)
        reply = Reply(client, owner, body.get("response_url"))
        if not records:
            await reply.send("Nothing to reload.", _text_blocks("You have no enabled servers to reload."))
            return
        await self._confirm.report(reply, records, [], title="Reloaded")

    async def _call(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        parts = command.rest.split(None, 2)
        if len(parts) < 2:
            await ack(text="Usage: `/mcp call <server> <tool> [json arguments]`", response_type="ephemeral")
            return
        server, tool = parts[0], parts[1]
        arguments = parts[2] if len(parts) > 2 else ""
        await ack()
        outcome = await self._tools.call(owner, server, tool, arguments)
        await respond(
            text=f"{server}__{tool} result",
            blocks=outcome_blocks(f"{server}__{tool}", outcome),
            response_type="ephemeral",
        )

    async def _allow(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        await self._tool_commands.allow(command, owner, respond)

    async def _deny(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        await self._tool_commands.deny(command, owner, respond)

    async def _audit(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        await self._tool_commands.audit(command, owner, respond)

    async def _open_connect(
        self,
        command: McpCommand,
        owner: Owner,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        await self._connect.open_modal(client, body["trigger_id"], body.get("response_url", ""))


def _one_name(command: McpCommand, verb: str) -> str:
    if len(command.words) != 1:
        raise _UsageError(f"Usage: `/mcp {verb} <name>` (see `/mcp list` for names).")
    return command.words[0]


class _UsageError(PlugboardError):
    pass


async def _answer(ack: AsyncAck, respond: AsyncRespond, text: str) -> None:
    """Answer in the ack if it is still unsent, otherwise through response_url."""
    if not ack.response:
        await ack(text=text, response_type="ephemeral")
    else:
        await respond(text=text, response_type="ephemeral")
