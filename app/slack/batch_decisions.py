"""Confirm (merge / replace) and Cancel / Discard on the review of a config file (upload or on-disk edit).

The button carries only a batch id; the owner comes from the payload, and the service checks that the batch is
theirs before anything runs.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.errors import PlugboardError
from app.services.config_import import ConfigImportService
from app.slack.blocks.confirmation import progress_blocks
from app.slack.blocks.report import DONE
from app.slack.confirm_flow import ConfirmFlow
from app.slack.reply import Reply
from app.slack.requester import owner_from_body
from app.slack.review_message import problem_text, text_blocks
from app.slack.text import code, escape


def _value(body: dict[str, Any]) -> str:
    return str(body["actions"][0].get("value", ""))


class BatchDecisions:
    def __init__(self, imports: ConfigImportService, confirm: ConfirmFlow) -> None:
        self._imports = imports
        self._confirm = confirm

    async def confirm(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        owner = owner_from_body(body)
        reply = Reply(client, owner, body.get("response_url"))
        mode, _, batch_id = _value(body).partition(":")
        try:
            review = await self._imports.review(owner, batch_id)  # ownership and freshness, before anything runs
            replace = mode == "replace" or review.source == "disk"
            names = [i.name for i in review.plan.changes(replace=replace)]
            await reply.send("Applying…", progress_blocks([f"{code(n)}: applying…" for n in names], title="Applying"))
            outcome = await self._imports.confirm(owner, batch_id, replace=replace)
        except PlugboardError as exc:
            text = f":x: {escape(problem_text(exc))} Nothing was changed."
            await reply.send(text, text_blocks(text))
            return
        lines = [f":wastebasket: Removed {code(n)}; its process is stopped." for n in outcome.removed]
        lines += [f":double_vertical_bar: {code(n)} is disabled and stopped." for n in outcome.stopped]
        lines += [
            f":white_circle: {code(n)} was added disabled; `/mcp enable {escape(n)}` starts it."
            for n in outcome.added_disabled
        ]
        await self._confirm.report(reply, outcome.running, lines, title=DONE)

    async def cancel(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        owner = owner_from_body(body)
        reply = Reply(client, owner, body.get("response_url"))
        try:
            batch = await self._imports.discard(owner, _value(body))
        except PlugboardError as exc:
            await reply.send(str(exc), text_blocks(f":x: {escape(str(exc))}"))
            return
        if batch is not None and batch.source == "disk":
            text = f"Discarded. {code(batch.filename)} is back to the config that runs; nothing was started."
        else:
            text = "Cancelled. Nothing was started or saved."
        await reply.send(text, text_blocks(text))
