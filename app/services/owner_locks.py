"""One lock per owner: an owner's read-modify-write steps run one at a time; other owners never wait.

A lock exists only while someone holds or waits for it, so memory follows what is happening, not how many owners
there have ever been."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from app.domain.owner import Owner


@dataclass
class _Held:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class OwnerLocks:
    def __init__(self) -> None:
        self._locks: dict[str, _Held] = {}

    @asynccontextmanager
    async def __call__(self, owner: Owner) -> AsyncIterator[None]:
        held = self._locks.setdefault(owner.id, _Held())
        held.users += 1
        try:
            async with held.lock:
                yield
        finally:
            held.users -= 1
            if held.users == 0:
                del self._locks[owner.id]

    def __len__(self) -> int:
        """How many owners have a lock right now (held or waited for)."""
        return len(self._locks)
