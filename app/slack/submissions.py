"""Modal submissions: validate, answer with inline field errors or close, then post the consent message."""

from __future__ import annotations

from app.domain.errors import InvalidConfig, PlugboardError, ServerNameTaken
from app.domain.server import PendingChange
from app.services.server_service import ServerService
from app.slack import ids
from app.slack.blocks.confirmation import confirmation_blocks, confirmation_text
from app.slack.blocks.plain import text_blocks
from app.slack.blocks.server_form import local_only, read_config, read_name
from app.slack.edge import Request, slack_handler
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

    @slack_handler
    async def add(self, req: Request) -> None:
        ack = req.ack
        values = req.view["state"]["values"]
        try:
            change = await self._servers.propose_add(req.owner, read_name(values), read_config(values))
        except InvalidConfig as exc:
            await ack(response_action="errors", errors=_field_errors(exc.problems, _FORM_FIELDS))
            return
        except ServerNameTaken as exc:
            await ack(response_action="errors", errors={ids.FIELD_NAME: str(exc)})
            return
        await ack()
        await self._ask(req, change)

    @slack_handler
    async def edit(self, req: Request) -> None:
        ack, owner = req.ack, req.owner
        values = req.view["state"]["values"]
        metadata = req.metadata
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
            text = f"Nothing that runs changed for {code(record.name)}; it keeps running as it was."
            await req.reply.send(text, text_blocks(text), replace=False)
            return
        await self._ask(req, change)

    async def _ask(self, req: Request, change: PendingChange) -> None:
        changes = [(change, self._servers.conditions(change.config))]
        await req.reply.send(confirmation_text(changes), confirmation_blocks(changes), replace=False)
