"""`/mcp connect`: the guided flow that is the only way to add or change a remote server."""

from __future__ import annotations

import json

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.errors import InvalidConfig, PlugboardError, ServerNameTaken
from app.domain.remote_config import OAuthAuth, RemoteServerConfig
from app.domain.server import PendingChange, ServerRecord
from app.services.connector_service import ConnectorService
from app.services.local_gate import RunConditions
from app.services.server_service import ServerService
from app.slack import ids
from app.slack.blocks.confirmation import confirmation_blocks, confirmation_text
from app.slack.blocks.connect_form import build_connect_modal, read_connect_form
from app.slack.blocks.plain import text_blocks
from app.slack.blocks.server_form import read_name
from app.slack.edge import Request, slack_handler
from app.slack.reply import Reply
from app.slack.text import escape

_FIELDS = {
    ids.FIELD_NAME,
    ids.FIELD_URL,
    ids.FIELD_TRANSPORT,
    ids.FIELD_AUTH,
    ids.FIELD_API_HEADER,
    ids.FIELD_API_VALUE,
    ids.FIELD_CLIENT_ID,
    ids.FIELD_CLIENT_SECRET,
    ids.FIELD_SCOPES,
}


class ConnectFlow:
    def __init__(self, servers: ServerService, connectors: ConnectorService) -> None:
        self._servers = servers
        self._connectors = connectors

    async def open_modal(
        self,
        client: AsyncWebClient,
        trigger_id: str,
        response_url: str,
        *,
        name: str | None = None,
        url: str | None = None,
        transport: str = "auto",
    ) -> None:
        view = build_connect_modal(metadata={"response_url": response_url}, name=name, url=url, transport=transport)
        await client.views_open(trigger_id=trigger_id, view=view)

    async def open_edit(
        self,
        client: AsyncWebClient,
        trigger_id: str,
        response_url: str,
        server_id: str,
        name: str,
        config: RemoteServerConfig,
    ) -> None:
        metadata = {"response_url": response_url, "server_id": server_id}
        await client.views_open(
            trigger_id=trigger_id, view=build_connect_modal(metadata=metadata, name=name, config=config)
        )

    @slack_handler
    async def submitted(self, req: Request) -> None:
        ack, owner = req.ack, req.owner
        values = req.view["state"]["values"]
        metadata = req.metadata
        try:
            if server_id := metadata.get("server_id"):
                record = await self._servers.owned(owner, server_id)
                previous = record.config if isinstance(record.config, RemoteServerConfig) else None
                change = await self._servers.propose_edit(
                    owner, record.id, read_connect_form(values, previous=previous)
                )
            else:
                change = await self._servers.propose_add(owner, read_name(values), read_connect_form(values))
        except InvalidConfig as exc:
            await ack(
                response_action="errors",
                errors={
                    (field if field in _FIELDS else ids.FIELD_URL): message[:2000]
                    for field, message in exc.problems.items()
                },
            )
            return
        except ServerNameTaken as exc:
            await ack(response_action="errors", errors={ids.FIELD_NAME: str(exc)})
            return
        except PlugboardError as exc:
            await ack(response_action="errors", errors={ids.FIELD_URL: str(exc)})
            return
        await ack()
        reply = req.reply
        if change is None:
            text = "Nothing changed; the server keeps its current connection."
            await reply.send(text, text_blocks(text), replace=False)
            return
        changes: list[tuple[PendingChange, RunConditions | None]] = [(change, None)]
        await reply.send(confirmation_text(changes), confirmation_blocks(changes), replace=False)

    @slack_handler
    async def prefilled(self, req: Request) -> None:
        """A remote entry found in an uploaded file: open the connect modal with its name and URL filled in."""
        await req.ack()
        try:
            entry = json.loads(str(req.body["actions"][0].get("value", "{}")))
        except json.JSONDecodeError:
            entry = {}
        if not isinstance(entry, dict):
            entry = {}
        transport = entry.get("transport") if entry.get("transport") in ("http", "sse") else "auto"
        await self.open_modal(
            req.client,
            req.body["trigger_id"],
            req.response_url,
            name=str(entry.get("name", ""))[:32] or None,
            url=str(entry.get("url", ""))[:2048] or None,
            transport=str(transport),
        )

    @slack_handler
    async def reconnect(self, req: Request) -> None:
        await req.ack()
        reply = req.reply
        try:  # said without the usual ":x:", as this button always has
            record = await self._servers.owned(req.owner, str(req.body["actions"][0].get("value", "")))
        except PlugboardError as exc:
            await reply.send(str(exc), text_blocks(escape(str(exc))))
            return
        await self.sign_in_again(record, reply)

    async def sign_in_again(self, record: ServerRecord, reply: Reply) -> None:
        if not (isinstance(record.config, RemoteServerConfig) and isinstance(record.config.auth, OAuthAuth)):
            text = (
                f"`{escape(record.name)}` does not sign in with OAuth; `/mcp reload {escape(record.name)}` restarts it."
            )
        else:
            self._connectors.start_authorization(record)
            text = f"Reconnecting `{escape(record.name)}`: I'll DM you a Connect link to sign in."
        await reply.send(text, text_blocks(text))

    async def link_clicked(self, ack: AsyncAck) -> None:
        """URL buttons still send block_actions; acknowledging is all there is to do."""
        await ack()
