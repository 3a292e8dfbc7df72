"""Relays a transport's inbound stream so we notice end-of-stream and servers that write garbage on stdout."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
from mcp.client._transport import TransportStreams
from mcp.shared.message import SessionMessage

from app.runtime.stdio_transport import StdoutLineTooLong

MAX_BAD_LINES = 20


class TransportHealth:
    """Shared between the relay and the actor: why the stream ended, if it did."""

    def __init__(self) -> None:
        self.closed = anyio.Event()
        self.bad_lines = 0
        self.problem: str | None = None

    @property
    def wrote_non_mcp(self) -> bool:
        """Whether the server printed anything on stdout that is not a JSON-RPC message."""
        return self.bad_lines > 0


@asynccontextmanager
async def supervised(
    inner: AbstractAsyncContextManager[TransportStreams],
    health: TransportHealth,
    on_open: Callable[[], None] = lambda: None,
) -> AsyncIterator[TransportStreams]:
    async with inner as (read, write):
        on_open()
        relay_send, relay_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def pump() -> None:
            async with relay_send:
                try:
                    async for item in read:
                        if isinstance(item, StdoutLineTooLong):
                            health.problem = str(item)
                            break
                        if isinstance(item, Exception):
                            health.bad_lines += 1
                            if health.bad_lines >= MAX_BAD_LINES:
                                health.problem = (
                                    f"the server wrote {health.bad_lines} lines to stdout that are not MCP messages "
                                    "(stdout must carry only MCP JSON; logs belong on stderr)"
                                )
                                break
                            continue
                        await relay_send.send(item)
                except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
                    pass
            health.closed.set()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(pump)
            try:
                yield relay_receive, write
            finally:
                tasks.cancel_scope.cancel()
                relay_receive.close()
