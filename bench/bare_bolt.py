"""`python -m bench.bare_bolt`: the baseline app — a bare Bolt app on the same fake Slack, over real HTTP.

`/mcp list` (or anything else) is only acknowledged. `/mcp call <server> <tool> <json>` is acknowledged, sent to a
bare `mcp.Client` session of the same tiny_server (one session per Slack user, opened on first use), and the result
is posted to response_url as a Block Kit section: the least any app must do for a tool call from Slack.
`/mcp reload` is acknowledged, then answered once a fresh bare session to the server has listed its tools.
Settings come from the environment: SLACK_API_URL, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, PORT, BENCH_SERVER.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from contextlib import AsyncExitStack
from typing import Any

import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class BareSessions:
    """One bare MCP session per user, like one live server per owner."""

    def __init__(self, server: StdioServerParameters, stack: AsyncExitStack) -> None:
        self._server = server
        self._stack = stack
        self._sessions: dict[str, Client] = {}
        self._opening: dict[str, asyncio.Lock] = {}
        self._sink = open(os.devnull, "w")  # noqa: SIM115  # the servers' stderr, for the whole run

    async def session(self, user_id: str) -> Client:
        async with self._opening.setdefault(user_id, asyncio.Lock()):
            if user_id not in self._sessions:
                transport = stdio_client(self._server, errlog=self._sink)
                client = Client(transport, read_timeout_seconds=30.0, cache=None)
                self._sessions[user_id] = await self._stack.enter_async_context(client)
            return self._sessions[user_id]

    async def connect_and_list(self) -> int:
        async with Client(stdio_client(self._server, errlog=self._sink), read_timeout_seconds=30.0, cache=None) as c:
            return len((await c.list_tools()).tools)


def build(sessions: BareSessions) -> Starlette:
    bolt = AsyncApp(
        client=AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    )

    async def mcp(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        words = str(body.get("text", "")).split(maxsplit=3)
        if words[:1] == ["call"] and len(words) >= 3:
            await ack()
            client = await sessions.session(str(body["user_id"]))
            result = await client.call_tool(words[2], json.loads(words[3]) if len(words) > 3 else {})
            text = "\n".join(getattr(block, "text", "") for block in result.content)
            section = {"type": "section", "text": {"type": "mrkdwn", "text": f"```{text[:2900]}```"}}
            await respond(text=f"{words[1]}__{words[2]} result", blocks=[section], response_type="ephemeral")
        elif words[:1] == ["reload"]:
            await ack()
            count = await sessions.connect_and_list()
            await respond(text=f":white_check_mark: ready, {count} tools", response_type="ephemeral")
        else:
            await ack(text="ok", response_type="ephemeral")

    bolt.command("/mcp")(mcp)
    handler = AsyncSlackRequestHandler(bolt)

    async def slack_events(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[Route("/slack/events", slack_events, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])]
    )


async def serve() -> None:
    server_argv = json.loads(os.environ["BENCH_SERVER"])
    parameters = StdioServerParameters(command=server_argv[0], args=server_argv[1:])
    async with AsyncExitStack() as stack:
        app = build(BareSessions(parameters, stack))
        config = uvicorn.Config(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning")
        await uvicorn.Server(config).serve()


if __name__ == "__main__":
    asyncio.run(serve())
    sys.exit(0)
