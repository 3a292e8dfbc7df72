"""Posting the review of a config file (upload or on-disk edit), or why it cannot be reviewed.

Whether a review is shown is the service's decision (`BatchReview.too_big_to_show`); this only says it."""

from __future__ import annotations

from app.domain.errors import InvalidConfig, PlugboardError
from app.services.config_import import BatchReview
from app.slack.blocks.config_review import TOO_BIG, review_blocks, review_text, too_big_blocks
from app.slack.blocks.plain import text_blocks
from app.slack.reply import Reply
from app.slack.text import code, escape


def problem_text(exc: PlugboardError) -> str:
    """The error as the owner should read it (InvalidConfig without its internal field names)."""
    if isinstance(exc, InvalidConfig):
        return " ".join(exc.problems.values())
    return str(exc)


async def send_review(reply: Reply, review: BatchReview, *, replace: bool = True) -> None:
    if review.too_big_to_show:
        await reply.send(TOO_BIG, too_big_blocks(), replace=replace)
        return
    await reply.send(review_text(review), review_blocks(review), replace=replace)


async def send_refusal(reply: Reply, filename: str, exc: PlugboardError, *, replace: bool = True) -> None:
    text = f":x: I could not use {code(filename[:100])}: {escape(problem_text(exc))}"
    if "Nothing was changed" not in text:
        text += " Nothing was changed."
    await reply.send(text[:3000], text_blocks(text), replace=replace)
