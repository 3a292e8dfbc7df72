"""Answers to a response_url over the app's one aiohttp session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from slack_sdk.webhook.webhook_response import WebhookResponse


class PooledRespond(AsyncRespond):
    """Bolt's `respond`, sent over the session the Web API client already keeps open. Bolt's own opens a new
    session and connection (a TLS handshake, with real Slack) for every answer and closes them after: for a tool
    call from `/mcp call` that was most of what Plugboard added to the call itself."""

    def __init__(self, response_url: str | None, session: aiohttp.ClientSession | None) -> None:
        super().__init__(response_url=response_url)
        self._session = session

    @classmethod
    def of(cls, client: AsyncWebClient, response_url: str | None) -> PooledRespond:
        return cls(response_url, client.session)

    async def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            message = _build_message(
                text=text,
                blocks=blocks,
                attachments=attachments,
                response_type=response_type,
                replace_original=replace_original,
                delete_original=delete_original,
                unfurl_links=unfurl_links,
                unfurl_media=unfurl_media,
                thread_ts=thread_ts,
                metadata=metadata,
            )
        webhook = AsyncWebhookClient(url=self.response_url, session=self._session)
        return await webhook.send_dict(message)
