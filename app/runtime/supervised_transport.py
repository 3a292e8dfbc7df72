"""Checks a transport's inbound stream so we notice end-of-stream and servers that write garbage on stdout."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Self

import anyio
from mcp.client._transport import ReadStream, TransportStreams
from mcp.shared.message import SessionMessage

from app.runtime.stdio_transport import StdoutLineTooLong

MAX_BAD_LINES = 20


class TransportHealth:
    """Shared between the checked stream and the actor: why the stream ended, if it did."""

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
        yield CheckedReadStream(read, health), write


class CheckedReadStream:
    """The transport's inbound stream as the session reads it, checked on the way: lines that are not MCP are
    counted and dropped, too many of them or an endless line end the stream, and the end is recorded in `health`.
    It runs in the reader's own task: no relay task or buffer between the transport and the session (a hop per
    message would cost every tool call a task switch)."""

    def __init__(self, inner: ReadStream[SessionMessage | Exception], health: TransportHealth) -> None:
        self._inner = inner
        self._health = health
        self._ended = False

    async def receive(self) -> SessionMessage | Exception:
        while not self._ended:
            try:
                item = await self._inner.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                break
            except anyio.ClosedResourceError:
                self._end()
                raise
            if isinstance(item, StdoutLineTooLong):
                self._health.problem = str(item)
                break
            if isinstance(item, Exception):
                self._health.bad_lines += 1
                if self._health.bad_lines >= MAX_BAD_LINES:
                    self._health.problem = (
                        f"the server wrote {self._health.bad_lines} lines to stdout that are not MCP messages "
                        "(stdout must carry only MCP JSON; logs belong on stderr)"
                    )
                    break
                continue
            return item
        self._end()
        raise anyio.EndOfStream

    def _end(self) -> None:
        self._ended = True
        self._health.closed.set()

    async def aclose(self) -> None:
        self._end()
        await self._inner.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
