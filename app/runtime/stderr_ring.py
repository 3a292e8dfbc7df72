"""A server's stderr, drained continuously into a bounded in-memory ring (never a full pipe, never unbounded)."""

from __future__ import annotations

import asyncio
import os
from collections import deque
from typing import TextIO, cast

MAX_BYTES = 64 * 1024


class StderrRing:
    """Owns a pipe: the child writes the write end, we read the other end into a ring of recent bytes."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._max = max_bytes
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._read_fd, write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        self._writer: TextIO | None = cast(TextIO, os.fdopen(write_fd, "w"))
        self._reader_attached = False
        self.dropped = 0

    @property
    def writer(self) -> TextIO:
        assert self._writer is not None, "stderr ring already handed its writer to a child"
        return self._writer

    def attach(self) -> None:
        """Start draining; call once the child holds its own copy of the write end."""
        if self._reader_attached:
            return
        loop = asyncio.get_running_loop()
        loop.add_reader(self._read_fd, self._drain)
        self._reader_attached = True
        self.close_writer()

    def close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _drain(self) -> None:
        try:
            chunk = os.read(self._read_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._detach()
            return
        self._chunks.append(chunk)
        self._size += len(chunk)
        while self._size > self._max and self._chunks:
            dropped = self._chunks.popleft()
            self._size -= len(dropped)
            self.dropped += len(dropped)

    def _detach(self) -> None:
        if self._reader_attached:
            asyncio.get_running_loop().remove_reader(self._read_fd)
            self._reader_attached = False

    def close(self) -> None:
        self.close_writer()
        if self._read_fd >= 0:
            if self._reader_attached:
                self._drain_remaining()
                self._detach()
            os.close(self._read_fd)
            self._read_fd = -1

    def _drain_remaining(self) -> None:
        for _ in range(64):  # bounded: at most a few MB more, then stop
            before = self._size + self.dropped
            self._drain()
            if not self._reader_attached or self._size + self.dropped == before:
                return

    @property
    def at_end(self) -> bool:
        """True once every writer closed the pipe and all it held was read (or draining never started)."""
        return not self._reader_attached

    def text(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")
