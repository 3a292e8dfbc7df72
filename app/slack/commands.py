"""`/mcp …`: acknowledge at once, then open a modal or answer ephemerally."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.errors import PlugboardError
from app.domain.remote_config import RemoteServerConfig
from app.domain.server_map import parse_server_map
from app.services.server_service import ServerService
from app.services.tool_service import ToolService
from app.slack.blocks.confirmation import confirmation_blocks, confirmation_text
from app.slack.blocks.help import help_blocks, help_text
from app.slack.blocks.server_form import build_server_modal, local_only
from app.slack.blocks.server_list import remove_prompt_blocks, server_list_blocks
from app.slack.blocks.tools import outcome_blocks, tools_blocks
from app.slack.command_line import CommandRequest, McpCommand, parse_command, parse_tool_reference
from app.slack.confirm_flow import ConfirmFlow
from app.slack.connect import ConnectFlow
from app.slack.download import ConfigDownload
from app.slack.requester import owner_from_body
from app.slack.text import code, escape
from app.slack.tool_commands import ToolCommands
from app.slack.upload import UploadFlow

log = logging.getLogger(__name__)

Handler = Callable[[CommandRequest], Awaitable[None]]
CALL_USAGE = (
    "Usage: `/mcp call <server>__<tool> [json arguments]`, with the tool named as `/mcp tools` lists it "
    "(`/mcp call <server> <tool> [json]` works too)."
)


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
            await handler(CommandRequest(command, owner, body, ack, respond, client))
        except PlugboardError as exc:
            await _answer(ack, respond, f":x: {escape(str(exc))}")

    async def _help(self, req: CommandRequest) -> None:
        await req.ack(text=help_text(), blocks=help_blocks(), response_type="ephemeral")

    async def _list(self, req: CommandRequest) -> None:
        await req.ack()
        items = await self._servers.overview(req.owner)
        blocks = server_list_blocks(items)
        if provided := await self._tools.admin_servers(req.owner):
            lines = ", ".join(f"{code(record.name)} ({escape(status.label())})" for record, status in provided)
            blocks.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Provided by your admin: {lines}"[:3000]}]}
            )
        await req.respond(text=f"You have {len(items)} MCP server(s).", blocks=blocks, response_type="ephemeral")

    async def _add(self, req: CommandRequest) -> None:
        await req.ack()
        metadata = {"response_url": req.body.get("response_url", "")}
        await req.client.views_open(trigger_id=req.body["trigger_id"], view=build_server_modal(metadata=metadata))

    async def _add_json(self, req: CommandRequest) -> None:
        configs = parse_server_map(req.command.rest)  # pure and fast: errors go straight back in the ack
        await req.ack()
        proposed = await self._servers.propose_adds(req.owner, configs)
        changes = [(change, self._servers.conditions(change.config)) for change in proposed]
        await req.respond(
            text=confirmation_text(changes), blocks=confirmation_blocks(changes), response_type="ephemeral"
        )

    async def _edit(self, req: CommandRequest) -> None:
        name = _one_name(req.command, "edit")
        await req.ack()
        item = await self._servers.get(req.owner, name)
        if isinstance(item.record.config, RemoteServerConfig):
            await self._connect.open_edit(
                req.client,
                req.body["trigger_id"],
                req.body.get("response_url", ""),
                item.record.id,
                item.record.name,
                item.record.config,
            )
            return
        metadata = {"server_id": item.record.id, "response_url": req.body.get("response_url", "")}
        view = build_server_modal(metadata=metadata, name=item.record.name, config=local_only(item.record.config))
        await req.client.views_open(trigger_id=req.body["trigger_id"], view=view)

    async def _remove(self, req: CommandRequest) -> None:
        name = _one_name(req.command, "remove")
        await req.ack()
        item = await self._servers.get(req.owner, name)
        await req.respond(text=f"Remove {name}?", blocks=remove_prompt_blocks(item), response_type="ephemeral")

    async def _enable(self, req: CommandRequest) -> None:
        name = _one_name(req.command, "enable")
        await req.ack()
        item = await self._servers.get(req.owner, name)
        record = await self._servers.set_enabled(req.owner, item.record.id, True)
        await self._confirm.report(req.reply, [record], [], title=f"Enabled {name}")

    async def _disable(self, req: CommandRequest) -> None:
        name = _one_name(req.command, "disable")
        await req.ack()
        item = await self._servers.get(req.owner, name)
        await self._servers.set_enabled(req.owner, item.record.id, False)
        await req.respond(
            text=f"Disabled {name}.",
            blocks=_text_blocks(
                f"{code(name)} is disabled and its process stopped. `/mcp enable {escape(name)}` starts it again."
            ),
            response_type="ephemeral",
        )

    async def _list_tools(self, req: CommandRequest) -> None:
        await req.ack()
        if req.command.words:
            name = req.command.words[0]
            tools = await self._tools.tools_of(req.owner, name)
            status = await self._tools.server_status(req.owner, name)
            empty = f"{code(name)} has no tools right now ({escape(status.label())})."
        else:
            await self._tools.admin_servers(req.owner)
            tools = self._tools.all_tools(req.owner)
            empty = "None of your servers is offering tools right now. See `/mcp list`."
        await req.respond(
            text=f"{len(tools)} tool(s)", blocks=tools_blocks(tools, empty=empty), response_type="ephemeral"
        )

    async def _reload(self, req: CommandRequest) -> None:
        name = req.command.words[0] if req.command.words else None
        await req.ack()
        records = await self._servers.reload(req.owner, name)
        reply = req.reply
        if not records:
            await reply.send("Nothing to reload.", _text_blocks("You have no enabled servers to reload."))
            return
        await self._confirm.report(reply, records, [], title="Reloaded")

    async def _call(self, req: CommandRequest) -> None:
        named = parse_tool_reference(req.command.rest)
        if named is None:
            await req.ack(text=CALL_USAGE, response_type="ephemeral")
            return
        await req.ack()
        outcome = await self._tools.call(req.owner, named.server, named.tool, named.rest)
        await req.respond(
            text=f"{named.exposed} result",
            blocks=outcome_blocks(named.exposed, outcome),
            response_type="ephemeral",
        )

    async def _allow(self, req: CommandRequest) -> None:
        await req.ack()
        await self._tool_commands.allow(req.command, req.owner, req.respond)

    async def _deny(self, req: CommandRequest) -> None:
        await req.ack()
        await self._tool_commands.deny(req.command, req.owner, req.respond)

    async def _audit(self, req: CommandRequest) -> None:
        await req.ack()
        await self._tool_commands.audit(req.command, req.owner, req.respond)

    async def _open_connect(self, req: CommandRequest) -> None:
        await req.ack()
        await self._connect.open_modal(req.client, req.body["trigger_id"], req.body.get("response_url", ""))


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
