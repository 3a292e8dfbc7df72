"""Start-up: `python -m app` on an empty store, 100 x 3 and 10,000 x 3 stored servers, interleaved.

Per start: time from spawn to the first 200 from /healthz; then /healthz polled back to back for the first 10 s
the app serves (its worst latency: start-up work still running must not stall it); then the server processes under
the app (lazy start: none) and the app's RSS.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx2

from bench.world import Processes, World
from tests.support.app_process import AppProcess

WINDOW_SECONDS = 10.0


@dataclass(frozen=True)
class StartUp:
    store: str
    to_healthy: float
    health_max: float
    health_polls: int
    server_processes: int
    rss_kib: int


async def measure_start(world: World, store: str, mode: str = "sandboxed") -> tuple[StartUp, AppProcess]:
    """Start an app and measure it; the caller stops (or keeps using) the returned process."""
    app = await world.spawn_app(store, mode)
    spawned = time.monotonic()
    try:
        async with httpx2.AsyncClient() as http:
            healthy = await app.wait_healthy(http)
            worst, polls = 0.0, 0
            while time.monotonic() - healthy < WINDOW_SECONDS:
                started = time.perf_counter()
                response = await http.get(f"{app.url}/healthz", timeout=10.0)
                worst = max(worst, time.perf_counter() - started)
                polls += 1
                if response.status_code != 200:
                    raise RuntimeError(f"/healthz answered {response.status_code}")
        result = StartUp(
            store,
            healthy - spawned,
            worst,
            polls,
            Processes.servers_under(app.pid),
            Processes.rss_kib(app.pid),
        )
    except BaseException:
        await app.reap()
        raise
    return result, app
