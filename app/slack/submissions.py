"""Modal submissions: validate, answer with inline field errors or close, then post the consent message."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.errors import InvalidConfig, PlugboardError, ServerNameTaken
from app.domain.server import PendingChange
from app.services.server_service import ServerService
from app.slack import ids
from app.slack.blocks.confirmation import confirmation_blocks, confirmation_text
from app.slack.blocks.server_form import local_only, read_config, read_name
from app.slack.reply import Reply
from app.slack.requester import owner_from_body, view_metadata
from app.slack.text import code

_FORM_FIELDS = {ids.FIELD_NAME, ids.FIELD_COMMAND, ids.FIELD_ARGS, ids.FIELD_ENV, ids.FIELD_CWD}


def _field_errors(problems: dict[str, str], present: set[str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for field, message in problems.items():
        target = field if field in present else ids.FIELD_COMMAND
        errors[target] = message[:2000]
    return errors


class ServerSubmissions:
    def __init__(self, servers: ServerService) -> None:
        self._servers = servers

    async def add(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        owner = owner_from_body(body)
        values = view["state"]["values"]
        try:
            change = await self._servers.propose_add(owner, read_name(values), read_config(values))
        except InvalidConfig as exc:
            await ack(response_action="errors", errors=_field_errors(exc.problems, _FORM_FIELDS))
            return
        except ServerNameTaken as exc:
            await ack(response_action="errors", errors={ids.FIELD_NAME: str(exc)})
            return
        await ack()
        await self._ask(client, body, view, change)

    async def edit(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        owner = owner_from_body(body)
        values = view["state"]["values"]
        metadata = view_metadata(view)
        present = _FORM_FIELDS - {ids.FIELD_NAME}
        try:
            record = await self._servers.owned(owner, str(metadata.get("server_id", "")))
            change = await self._servers.propose_edit(
                owner, record.id, read_config(values, previous=local_only(record.config))
            )
        except InvalidConfig as exc:
            await ack(response_action="errors", errors=_field_errors(exc.problems, present))
            return
        except PlugboardError as exc:
            await ack(response_action="errors", errors={ids.FIELD_COMMAND: str(exc)})
            return
        await ack()
        if change is None:
            reply = Reply(client, owner, metadata.get("response_url") or None)
            text = f"Nothing that runs changed for {code(record.name)}; it keeps running as it was."
            await reply.send(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}], replace=False)
            return
        await self._ask(client, body, view, change)

    async def _ask(
        self, client: AsyncWebClient, body: dict[str, Any], view: dict[str, Any], change: PendingChange
    ) -> None:
        reply = Reply(client, owner_from_body(body), view_metadata(view).get("response_url") or None)
        changes = [(change, self._servers.conditions(change.config))]
        await reply.send(confirmation_text(changes), confirmation_blocks(changes), replace=False)
