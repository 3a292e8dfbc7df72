"""Slack's response_url hooks, served by the load generator itself: when an answer arrives is when it is timed."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.loopback import serve_aiohttp

Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class _Hook:
    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class ResponseReceiver:
    def __init__(self) -> None:
        self._hooks: dict[str, _Hook] = {}
        self._ids = itertools.count()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> ResponseReceiver:
        app = web.Application()
        app.router.add_post("/hook/{id}", self._handle)
        self._runner, self.base_url = await serve_aiohttp(app)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def new_url(self) -> str:
        hook_id = f"h{next(self._ids)}"
        self._hooks[hook_id] = _Hook()
        return f"{self.base_url}/hook/{hook_id}"

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        hook = self._hooks.get(request.match_info["id"])
        if hook is None:
            return web.Response(status=404, text="no_service")
        body = json.loads(await request.text() or "{}")
        hook.messages.append((arrived, body if isinstance(body, dict) else {}))
        hook.changed.set()
        return web.Response(text="ok")

    async def wait(self, url: str, predicate: Predicate, timeout: float = 60.0) -> tuple[float, dict[str, Any]]:
        """The first message to `url` that satisfies `predicate`: (arrival time, message)."""
        hook = self._hooks[url.rsplit("/", 1)[1]]
        async with asyncio.timeout(timeout):
            while True:
                for arrived, message in hook.messages:
                    if predicate(message):
                        return arrived, message
                hook.changed.clear()
                await hook.changed.wait()

    def forget(self, url: str) -> None:
        self._hooks.pop(url.rsplit("/", 1)[1], None)


def text_of(message: dict[str, Any]) -> str:
    return json.dumps(message)
