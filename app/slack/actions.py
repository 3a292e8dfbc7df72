"""Buttons and menus. Every handler gets the owner from the payload (via the edge) and re-checks ownership."""

from __future__ import annotations

import logging

from app.domain.errors import ChangeExpired
from app.domain.remote_config import RemoteServerConfig
from app.services.server_service import ServerService
from app.slack.blocks.confirmation import confirmation_blocks, confirmation_text
from app.slack.blocks.plain import text_blocks
from app.slack.blocks.server_form import build_server_modal, local_only
from app.slack.blocks.server_list import remove_prompt_blocks
from app.slack.confirm_flow import ConfirmFlow
from app.slack.connect import ConnectFlow
from app.slack.edge import Request, report_error, reporting_errors, slack_handler
from app.slack.home import HomeTab
from app.slack.text import code

log = logging.getLogger(__name__)


class ServerActions:
    def __init__(self, servers: ServerService, confirm: ConfirmFlow, home: HomeTab, connect: ConnectFlow) -> None:
        self._connect = connect
        self._servers = servers
        self._confirm = confirm
        self._home = home

    @slack_handler
    async def confirm_change(self, req: Request) -> None:
        await req.ack()
        change_ids = [c for c in req.value.split(",") if c][:32]
        if not change_ids:
            await report_error(req.reply, ChangeExpired())
            return
        for change_id in change_ids:
            await self._servers.pending(req.owner, change_id)  # ownership and freshness, before anything runs
        await self._confirm.run(req.reply, req.owner, change_ids)
        await self._refresh_home(req)

    @slack_handler
    async def use_workspace(self, req: Request) -> None:
        """Point the folder arguments the sandbox does not show at the owner's workspace, and ask again."""
        await req.ack()
        change = await self._servers.propose_in_workspace(req.owner, req.value)
        conditions = self._servers.conditions(change.config)
        shown = [(change, conditions)]
        await req.reply.send(confirmation_text(shown), confirmation_blocks(shown))

    @slack_handler
    async def cancel_change(self, req: Request) -> None:
        await req.ack()
        for change_id in req.value.split(",")[:32]:
            await self._servers.cancel(req.owner, change_id)
        await req.reply.send("Cancelled.", text_blocks("Cancelled. Nothing was started or saved."))

    @slack_handler
    async def server_menu(self, req: Request) -> None:
        await req.ack()
        owner, reply, client = req.owner, req.reply, req.client
        verb, _, server_id = req.value.partition(":")
        async with reporting_errors(reply, replace=False):
            record = await self._servers.owned(owner, server_id)
            if verb == "edit" and isinstance(record.config, RemoteServerConfig):
                await self._connect.open_edit(
                    client, req.body["trigger_id"], req.response_url, record.id, record.name, record.config
                )
            elif verb == "edit":
                metadata = {"server_id": record.id, "response_url": req.response_url}
                view = build_server_modal(metadata=metadata, name=record.name, config=local_only(record.config))
                await client.views_open(trigger_id=req.body["trigger_id"], view=view)
            elif verb in ("enable", "disable"):
                updated = await self._servers.set_enabled(owner, record.id, verb == "enable")
                if verb == "enable":
                    await self._confirm.report(reply, [updated], [], title=f"Enabled {record.name}")
                else:
                    await reply.send(
                        f"Disabled {record.name}", text_blocks(f"{code(record.name)} is disabled and stopped.")
                    )
            elif verb == "reconnect":
                await self._connect.sign_in_again(record, reply)
            elif verb == "remove":
                item = await self._servers.get(owner, record.name)
                await reply.send(f"Remove {record.name}?", remove_prompt_blocks(item), replace=False)
        await self._refresh_home(req)

    @slack_handler
    async def confirm_remove(self, req: Request) -> None:
        await req.ack()
        record = await self._servers.remove(req.owner, req.value)
        await req.reply.send(
            f"Removed {record.name}", text_blocks(f":wastebasket: Removed {code(record.name)}; its process is stopped.")
        )
        await self._refresh_home(req)

    @slack_handler
    async def cancel_remove(self, req: Request) -> None:
        await req.ack()
        await req.reply.send("Kept.", text_blocks("Kept. Nothing was removed."))

    @slack_handler
    async def open_add_modal(self, req: Request) -> None:
        await req.ack()
        await req.client.views_open(trigger_id=req.body["trigger_id"], view=build_server_modal(metadata={}))

    @slack_handler
    async def open_connect_modal(self, req: Request) -> None:
        """App Home's Connect button; the confirmation then arrives as a DM (there is no response_url)."""
        await req.ack()
        await self._connect.open_modal(req.client, req.body["trigger_id"], req.response_url)

    async def _refresh_home(self, req: Request) -> None:
        if (req.body.get("view") or {}).get("type") == "home":
            await self._home.publish(req.client, req.owner)
