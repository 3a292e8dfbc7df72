"""`/mcp …`: acknowledge at once, then open a modal or answer ephemerally."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from app.domain.errors import UsageError
from app.domain.remote_config import RemoteServerConfig
from app.domain.server_map import parse_server_map
from app.services.server_service import ServerService
from app.services.tool_service import ToolService
from app.slack.audit_command import AuditCommand
from app.slack.blocks.confirmation import confirmation_blocks, confirmation_text
from app.slack.blocks.help import help_blocks, help_text
from app.slack.blocks.plain import text_blocks
from app.slack.blocks.server_form import build_server_modal, local_only
from app.slack.blocks.server_list import admin_servers_block, remove_prompt_blocks, server_list_blocks
from app.slack.blocks.tools import outcome_blocks, tools_blocks
from app.slack.command_line import CommandRequest, McpCommand, parse_tool_reference
from app.slack.confirm_flow import ConfirmFlow
from app.slack.connect import ConnectFlow
from app.slack.download import ConfigDownload
from app.slack.edge import slack_command
from app.slack.text import code, escape
from app.slack.tool_commands import ToolCommands
from app.slack.upload import UploadFlow

log = logging.getLogger(__name__)

Handler = Callable[[CommandRequest], Awaitable[None]]
CALL_USAGE = (
    "Usage: `/mcp call <server>__<tool> [json arguments]`, with the tool named as `/mcp tools` lists it "
    "(`/mcp call <server> <tool> [json]` works too)."
)


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
        audit: AuditCommand,
        run: Handler,
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
            "run": run,
            "allow": self._allow,
            "deny": self._deny,
            "ask": self._ask_first,
            "audit": audit.show,
            "connect": self._open_connect,
            "upload": upload.open,
            "download": download.download,
        }

    @slack_command
    async def handle(self, req: CommandRequest) -> None:
        handler = self._handlers.get(req.command.name)
        if handler is None:
            intro = f"I don't know `/mcp {escape(req.command.name[:40])}`. Here is what I can do:"
            await req.ack(text=help_text(), blocks=help_blocks(intro), response_type="ephemeral")
            return
        await handler(req)

    async def _help(self, req: CommandRequest) -> None:
        await req.ack(text=help_text(), blocks=help_blocks(), response_type="ephemeral")

    async def _list(self, req: CommandRequest) -> None:
        await req.ack()
        items = await self._servers.overview(req.owner)
        blocks = server_list_blocks(items)
        if provided := await self._tools.admin_servers(req.owner):
            blocks.append(admin_servers_block(provided))
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
            blocks=text_blocks(
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
            tools = await self._tools.catalog(req.owner, include_disabled=True)
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
            await reply.send("Nothing to reload.", text_blocks("You have no enabled servers to reload."))
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

    async def _ask_first(self, req: CommandRequest) -> None:
        await req.ack()
        await self._tool_commands.ask_first(req.command, req.owner, req.respond)

    async def _open_connect(self, req: CommandRequest) -> None:
        await req.ack()
        await self._connect.open_modal(req.client, req.body["trigger_id"], req.body.get("response_url", ""))


def _one_name(command: McpCommand, verb: str) -> str:
    if len(command.words) != 1:
        raise UsageError(f"Usage: `/mcp {verb} <name>` (see `/mcp list` for names).")
    return command.words[0]
