"""DMs about edits of the config files on disk: review with Confirm / Discard, refusals, undone remote edits."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from app.domain.owner import Owner
from app.services.config_import import BatchReview
from app.slack.blocks.plain import text_blocks
from app.slack.reply import Reply
from app.slack.review_message import send_review
from app.slack.text import code, escape


class ConfigEditDM:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def edit_to_review(self, owner: Owner, review: BatchReview) -> None:
        await send_review(Reply(self._client, owner, None), review)

    async def edit_refused(self, owner: Owner, filename: str, problem: str) -> None:
        text = (
            f":x: Your edit of {code(filename)} was not applied: {escape(problem)}\n"
            "Your servers keep running as they were. Fix the file and save it again."
        )
        await self._dm(owner, text)

    async def remote_edit_undone(self, owner: Owner) -> None:
        text = (
            ":leftwards_arrow_with_hook: I put `mcp_remote.json` back as it was: remote servers come only through "
            "`/mcp connect`, where you see and approve their address and sign-in."
        )
        await self._dm(owner, text)

    async def file_restored(self, owner: Owner, filename: str) -> None:
        text = (
            f":leftwards_arrow_with_hook: {code(filename)} was deleted; I wrote it again from your running config. "
            "To remove a server, delete its entry from the file or use `/mcp remove NAME`."
        )
        await self._dm(owner, text)

    async def _dm(self, owner: Owner, text: str) -> None:
        await self._client.chat_postMessage(
            channel=owner.user_id, text=text[:3000], blocks=text_blocks(text), unfurl_links=False, unfurl_media=False
        )
