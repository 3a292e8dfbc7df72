"""Posting the review of a config file (upload or on-disk edit), or why it cannot be reviewed."""

from __future__ import annotations

from typing import Any

from app.domain.errors import InvalidConfig, PlugboardError
from app.domain.owner import Owner
from app.services.config_import import BatchReview, ConfigImportService
from app.slack.blocks.config_review import fits_in_a_message, review_blocks, review_text
from app.slack.reply import Reply
from app.slack.text import code, escape

TOO_BIG = (
    "This file changes too much to review in one Slack message: split it into smaller files (fewer servers or "
    "shorter command lines). Nothing was changed."
)


def problem_text(exc: PlugboardError) -> str:
    """The error as the owner should read it (InvalidConfig without its internal field names)."""
    if isinstance(exc, InvalidConfig):
        return " ".join(exc.problems.values())
    return str(exc)


def text_blocks(text: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]


class ReviewMessages:
    def __init__(self, imports: ConfigImportService) -> None:
        self._imports = imports

    async def send(self, reply: Reply, owner: Owner, review: BatchReview, *, replace: bool = True) -> None:
        blocks = review_blocks(review)
        if fits_in_a_message(blocks):
            await reply.send(review_text(review), blocks, replace=replace)
            return
        if review.batch is not None:
            await self._imports.discard(owner, review.batch.id, restore_file=False)
        await reply.send(TOO_BIG, text_blocks(f":x: {TOO_BIG}"), replace=replace)

    async def refused(self, reply: Reply, filename: str, exc: PlugboardError, *, replace: bool = True) -> None:
        text = f":x: I could not use {code(filename[:100])}: {escape(problem_text(exc))}"
        if "Nothing was changed" not in text:
            text += " Nothing was changed."
        await reply.send(text[:3000], text_blocks(text), replace=replace)
