"""`python -m bench.bare_assistant`: the baseline for the assistant's first byte — a bare Bolt app that, on a DM,
sets the thread's status at once (the least any Slack assistant does before thinking).

Settings from the environment: SLACK_API_URL, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, PORT.
"""

from __future__ import annotations

import os
from typing import Any

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def build() -> Starlette:
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    bolt = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])

    @bolt.event("message")
    async def on_message(event: dict[str, Any], client: AsyncWebClient) -> None:
        thread_ts = event.get("thread_ts") or event["ts"]
        await client.assistant_threads_setStatus(
            channel_id=event["channel"], thread_ts=thread_ts, status="is thinking…"
        )

    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"]), Route("/healthz", healthz)])


if __name__ == "__main__":
    uvicorn.run(build(), host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning")
