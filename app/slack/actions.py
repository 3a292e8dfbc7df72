"""Buttons and menus. Every handler re-derives the owner from the payload and re-checks ownership."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.errors import ChangeExpired, PlugboardError
from app.domain.owner import Owner
from app.domain.remote_config import RemoteServerConfig
from app.services.server_service import ServerService
from app.slack.blocks.confirmation import confirmation_blocks, confirmation_text
from app.slack.blocks.server_form import build_server_modal, local_only
from app.slack.blocks.server_list import remove_prompt_blocks
from app.slack.confirm_flow import ConfirmFlow
from app.slack.connect import ConnectFlow
from app.slack.home import HomeTab
from app.slack.reply import Reply
from app.slack.requester import owner_from_body
from app.slack.text import code, escape

log = logging.getLogger(__name__)


def _text(text: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]


def _action(body: dict[str, Any]) -> dict[str, Any]:
    action: dict[str, Any] = body["actions"][0]
    return action


def _value(body: dict[str, Any]) -> str:
    action = _action(body)
    if "selected_option" in action:
        return str(action["selected_option"]["value"])
    return str(action.get("value", ""))


class ServerActions:
    def __init__(self, servers: ServerService, confirm: ConfirmFlow, home: HomeTab, connect: ConnectFlow) -> None:
        self._connect = connect
        self._servers = servers
        self._confirm = confirm
        self._home = home

    async def confirm_change(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        owner = owner_from_body(body)
        reply = self._reply(client, owner, body)
        change_ids = [c for c in _value(body).split(",") if c][:32]
        if not change_ids:
            expired = ChangeExpired()
            await reply.send(str(expired), _text(f":x: {escape(str(expired))}"))
            return
        try:
            for change_id in change_ids:
                await self._servers.pending(owner, change_id)  # ownership and freshness, before anything runs
        except PlugboardError as exc:
            await reply.send(str(exc), _text(f":x: {escape(str(exc))}"))
            return
        await self._confirm.run(reply, owner, change_ids)
        await self._refresh_home(client, owner, body)

    async def use_workspace(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        """Point the folder arguments the sandbox does not show at the owner's workspace, and ask again."""
        await ack()
        owner = owner_from_body(body)
        reply = self._reply(client, owner, body)
        try:
            change = await self._servers.propose_in_workspace(owner, _value(body))
            conditions = self._servers.conditions(change.config)
        except PlugboardError as exc:
            await reply.send(str(exc), _text(f":x: {escape(str(exc))}"))
            return
        shown = [(change, conditions)]
        await reply.send(confirmation_text(shown), confirmation_blocks(shown))

    async def cancel_change(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        owner = owner_from_body(body)
        reply = self._reply(client, owner, body)
        try:
            for change_id in _value(body).split(",")[:32]:
                await self._servers.cancel(owner, change_id)
        except PlugboardError as exc:
            await reply.send(str(exc), _text(f":x: {escape(str(exc))}"))
            return
        await reply.send("Cancelled.", _text("Cancelled. Nothing was started or saved."))

    async def server_menu(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        owner = owner_from_body(body)
        verb, _, server_id = _value(body).partition(":")
        reply = self._reply(client, owner, body)
        try:
            record = await self._servers.owned(owner, server_id)
            if verb == "edit" and isinstance(record.config, RemoteServerConfig):
                await self._connect.open_edit(
                    client, body["trigger_id"], body.get("response_url", ""), record.id, record.name, record.config
                )
            elif verb == "edit":
                metadata = {"server_id": record.id, "response_url": body.get("response_url", "")}
                view = build_server_modal(metadata=metadata, name=record.name, config=local_only(record.config))
                await client.views_open(trigger_id=body["trigger_id"], view=view)
            elif verb in ("enable", "disable"):
                updated = await self._servers.set_enabled(owner, record.id, verb == "enable")
                if verb == "enable":
                    await self._confirm.report(reply, [updated], [], title=f"Enabled {record.name}")
                else:
                    await reply.send(f"Disabled {record.name}", _text(f"{code(record.name)} is disabled and stopped."))
            elif verb == "reconnect":
                await self._connect.sign_in_again(record, reply)
            elif verb == "remove":
                item = await self._servers.get(owner, record.name)
                await reply.send(f"Remove {record.name}?", remove_prompt_blocks(item), replace=False)
        except PlugboardError as exc:
            await reply.send(str(exc), _text(f":x: {escape(str(exc))}"), replace=False)
        await self._refresh_home(client, owner, body)

    async def confirm_remove(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        owner = owner_from_body(body)
        reply = self._reply(client, owner, body)
        try:
            record = await self._servers.remove(owner, _value(body))
        except PlugboardError as exc:
            await reply.send(str(exc), _text(f":x: {escape(str(exc))}"))
            return
        await reply.send(
            f"Removed {record.name}", _text(f":wastebasket: Removed {code(record.name)}; its process is stopped.")
        )
        await self._refresh_home(client, owner, body)

    async def cancel_remove(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        reply = self._reply(client, owner_from_body(body), body)
        await reply.send("Kept.", _text("Kept. Nothing was removed."))

    async def open_add_modal(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=build_server_modal(metadata={}))

    async def open_connect_modal(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        """App Home's Connect button; the confirmation then arrives as a DM (there is no response_url)."""
        await ack()
        await self._connect.open_modal(client, body["trigger_id"], body.get("response_url", ""))

    @staticmethod
    def _reply(client: AsyncWebClient, owner: Owner, body: dict[str, Any]) -> Reply:
        return Reply(client, owner, body.get("response_url"))

    async def _refresh_home(self, client: AsyncWebClient, owner: Owner, body: dict[str, Any]) -> None:
        if (body.get("view") or {}).get("type") == "home":
            await self._home.publish(client, owner)
