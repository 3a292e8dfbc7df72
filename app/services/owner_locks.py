"""One lock per owner: an owner's read-modify-write steps run one at a time; other owners never wait."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from app.domain.owner import Owner


class OwnerLocks:
    def __init__(self) -> None:
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def __call__(self, owner: Owner) -> asyncio.Lock:
        return self._locks[owner.id]
