"""Confirm (merge / replace) and Cancel / Discard on the review of a config file (upload or on-disk edit).

The button carries only a batch id; the owner comes from the payload, and the service checks that the batch is
theirs before anything runs.
"""

from __future__ import annotations

from app.domain.errors import PlugboardError
from app.services.config_import import ConfigImportService
from app.slack.blocks.confirmation import progress_blocks
from app.slack.blocks.plain import text_blocks
from app.slack.blocks.report import DONE
from app.slack.confirm_flow import ConfirmFlow
from app.slack.edge import Request, slack_handler
from app.slack.review_message import problem_text
from app.slack.text import code, escape


class BatchDecisions:
    def __init__(self, imports: ConfigImportService, confirm: ConfirmFlow) -> None:
        self._imports = imports
        self._confirm = confirm

    @slack_handler
    async def confirm(self, req: Request) -> None:
        await req.ack()
        owner, reply = req.owner, req.reply
        mode, _, batch_id = req.value.partition(":")
        try:
            review = await self._imports.review(owner, batch_id)  # ownership and freshness, before anything runs
            replace = mode == "replace" or review.source == "disk"
            names = [i.name for i in review.plan.changes(replace=replace)]
            await reply.send("Applying…", progress_blocks([f"{code(n)}: applying…" for n in names], title="Applying"))
            outcome = await self._imports.confirm(owner, batch_id, replace=replace)
        except PlugboardError as exc:
            text = f":x: {escape(problem_text(exc))} Nothing was changed."
            await req.reply.send(text, text_blocks(text))
            return
        lines = [f":wastebasket: Removed {code(n)}; its process is stopped." for n in outcome.removed]
        lines += [f":double_vertical_bar: {code(n)} is disabled and stopped." for n in outcome.stopped]
        lines += [
            f":white_circle: {code(n)} was added disabled; `/mcp enable {escape(n)}` starts it."
            for n in outcome.added_disabled
        ]
        await self._confirm.report(reply, outcome.running, lines, title=DONE)

    @slack_handler
    async def cancel(self, req: Request) -> None:
        await req.ack()
        batch = await self._imports.discard(req.owner, req.value)
        if batch is not None and batch.source == "disk":
            text = f"Discarded. {code(batch.filename)} is back to the config that runs; nothing was started."
        else:
            text = "Cancelled. Nothing was started or saved."
        await req.reply.send(text, text_blocks(text))
