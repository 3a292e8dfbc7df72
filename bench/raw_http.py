"""Many HTTP/1.1 POSTs written at the same moment over connections opened beforehand.

A Python HTTP client spends a millisecond or more of its own CPU per request; fifty of them at once on a 2-core
machine is 50+ ms of the load generator's time charged to whoever is being timed. Here the requests are built
and the connections opened first, then each request is one `write()` (timed just before it), and only then are
the answers read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from urllib.parse import urlsplit


class RawPoster:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._path = parts.path or "/"
        self._connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post_all(self, requests: Sequence[tuple[bytes, dict[str, str]]]) -> list[float]:
        """POST every (body, headers) at once, each on a fresh connection of its own (opened before, closed after:
        none outlives the server's keep-alive); returns when each was written (`time.monotonic()`), after every
        answer was read and found to be 200."""
        return [written for written, _ in await self.exchange_all(requests)]

    async def exchange_all(self, requests: Sequence[tuple[bytes, dict[str, str]]]) -> list[tuple[float, float]]:
        """Like `post_all`, with when each answer's head arrived: [(written, answered)] (`time.monotonic()`)."""
        wires = [self._request(body, headers) for body, headers in requests]
        self._connections = [await asyncio.open_connection(self._host, self._port) for _ in wires]
        try:
            written: list[float] = []
            for (_, writer), wire in zip(self._connections, wires, strict=True):
                written.append(time.monotonic())
                writer.write(wire)
            answered = await asyncio.gather(*(self._read_answer(reader) for reader, _ in self._connections))
            return list(zip(written, answered, strict=True))
        finally:
            await self.close()

    async def close(self) -> None:
        for _, writer in self._connections:
            writer.close()
        await asyncio.gather(*(writer.wait_closed() for _, writer in self._connections), return_exceptions=True)
        self._connections.clear()

    def _request(self, body: bytes, headers: dict[str, str]) -> bytes:
        lines = [f"POST {self._path} HTTP/1.1", f"Host: {self._host}:{self._port}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    @staticmethod
    async def _read_answer(reader: asyncio.StreamReader) -> float:
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)).decode("latin-1")
        arrived = time.monotonic()
        status = head.split(" ", 2)[1]
        if status != "200":
            raise RuntimeError(f"the app answered {status}")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if "transfer-encoding: chunked" in head.lower():
            raise RuntimeError("a chunked answer to an event: not expected from Bolt")
        await reader.readexactly(length)
        return arrived
