"""The buttons and modal that answer a server's question (MCP elicitation). Only the server's owner may answer:
the service checks the clicker (from the payload) against the owner of the question the button names."""

from __future__ import annotations

from typing import Any

from app.domain.errors import ElicitationGone, PlugboardError
from app.services.elicitation_service import ElicitationService
from app.slack.blocks.elicitation import elicitation_form, gone_modal
from app.slack.blocks.tool_form import FormInputError, read_form
from app.slack.edge import Request, slack_handler


class ElicitationAnswers:
    def __init__(self, elicitation: ElicitationService) -> None:
        self._elicitation = elicitation

    @slack_handler
    async def open_form(self, req: Request) -> None:
        """Provide input: the form for the requested schema (the click brings the trigger_id a modal needs)."""
        await req.ack()
        request = self._elicitation.pending(req.owner, req.value)
        if request.schema is None:
            raise ElicitationGone()
        await req.client.views_open(trigger_id=req.body["trigger_id"], view=elicitation_form(request))

    @slack_handler
    async def decline(self, req: Request) -> None:
        await req.ack()
        self._elicitation.decline(req.owner, req.value)  # the service's notifier updates the message

    @slack_handler
    async def open_link(self, req: Request) -> None:
        """URL mode: the person agreed; the message then shows the link for them to open (we never fetch it)."""
        await req.ack()
        self._elicitation.open_link(req.owner, req.value)

    async def link_clicked(self, ack: Any) -> None:
        """A url button still sends an action; Slack opens the link in the browser."""
        await ack()

    @slack_handler
    async def submitted(self, req: Request) -> None:
        request_id = req.metadata.get("elicitation", "")
        try:
            request = self._elicitation.pending(req.owner, request_id)
        except PlugboardError as exc:
            await req.ack(response_action="update", view=gone_modal(str(exc)))
            return
        if request.schema is None:
            await req.ack(response_action="update", view=gone_modal(str(ElicitationGone())))
            return
        try:
            content = read_form(request.schema, req.view["state"]["values"])
        except FormInputError as exc:
            await req.ack(response_action="errors", errors=exc.errors)
            return
        await req.ack()
        self._elicitation.answer(req.owner, request_id, content)
