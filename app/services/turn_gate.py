"""Who may start an assistant turn now: one turn per conversation at a time (the next waits its turn), and per
person a cap on turns per minute and on turns running at once. State is dropped when nothing is running."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from app.domain.errors import AssistantBusy
from app.domain.owner import Owner

RATE_WINDOW_SECONDS = 60.0


@dataclass
class _Queue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class TurnGate:
    def __init__(
        self, *, turns_per_minute: int, concurrent_turns: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._turns_per_minute = turns_per_minute
        self._concurrent_turns = concurrent_turns
        self._clock = clock
        self._queues: dict[str, _Queue] = {}
        self._started: dict[str, deque[float]] = {}
        self._running: dict[str, int] = {}

    def admit(self, owner: Owner) -> None:
        """Count a new message against the person's rate; refuse it (with when to retry) over the cap."""
        now = self._clock()
        started = self._started.setdefault(owner.id, deque())
        while started and now - started[0] >= RATE_WINDOW_SECONDS:
            started.popleft()
        if len(started) >= self._turns_per_minute:
            wait = max(1, math.ceil(RATE_WINDOW_SECONDS - (now - started[0])))
            raise AssistantBusy(
                f"You have asked {self._turns_per_minute} times in the last minute (the limit). Try again in {wait} s.",
                wait,
            )
        started.append(now)

    @asynccontextmanager
    async def turn(self, owner: Owner, conversation: str) -> AsyncIterator[None]:
        """Run inside: the conversation's previous turn has finished and the person is under their cap."""
        queue = self._queues.setdefault(conversation, _Queue())
        queue.users += 1
        try:
            async with queue.lock:
                running = self._running.get(owner.id, 0)
                if running >= self._concurrent_turns:
                    raise AssistantBusy(
                        f"You already have {running} answers being written (the limit). "
                        "Try again when one has finished, in a minute or so.",
                        60,
                    )
                self._running[owner.id] = running + 1
                try:
                    yield
                finally:
                    self._release(owner)
        finally:
            queue.users -= 1
            if queue.users == 0:
                self._queues.pop(conversation, None)

    def _release(self, owner: Owner) -> None:
        left = self._running.get(owner.id, 1) - 1
        if left > 0:
            self._running[owner.id] = left
            return
        self._running.pop(owner.id, None)
        started = self._started.get(owner.id)
        if started is not None and (not started or self._clock() - started[-1] >= RATE_WINDOW_SECONDS):
            self._started.pop(owner.id, None)


class RecentEvents:
    """Slack event ids seen in the last few minutes, in memory: a retry is dropped before any disk work. (The
    database keeps ids for a day, for retries across a restart.)"""

    def __init__(self, ttl_seconds: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._seen: dict[str, float] = {}

    def first(self, event_id: str) -> bool:
        now = self._clock()
        if len(self._seen) > 1000:  # prune now and then, not on every event
            self._seen = {k: t for k, t in self._seen.items() if now - t < self._ttl}
        seen = self._seen.get(event_id)
        if seen is not None and now - seen < self._ttl:
            return False
        self._seen[event_id] = now
        return True
