"""`/mcp list` acks under 200 concurrent requests: Plugboard (10k x 3 stored) vs the bare Bolt app, interleaved.

Plugboard answers `list` through response_url after the ack; those answers go to the fake Slack process's sink
(not to the load generator, which would then be busier during Plugboard's rounds than during the baseline's), and
each round waits for them to land before the next one starts.
"""

from __future__ import annotations

import asyncio
import itertools
import time

from bench.world import World, owner
from tests.support.app_process import AppProcess

CONCURRENT = 200
ANSWERS_TIMEOUT = 120.0
_hook_ids = itertools.count()


async def _round(world: World, base_url: str, first_owner: int, answered: bool) -> list[float]:
    before = await world.sink_count()
    urls = [f"{world.sink_url}/hook/a{next(_hook_ids)}" for _ in range(CONCURRENT)]
    acks = await asyncio.gather(
        *(world.slash(base_url, "list", owner(first_owner + i), url) for i, url in enumerate(urls))
    )
    if answered:
        deadline = time.monotonic() + ANSWERS_TIMEOUT
        while await world.sink_count() < before + CONCURRENT:
            if time.monotonic() > deadline:
                raise RuntimeError("Plugboard's /mcp list answers did not all arrive")
            await asyncio.sleep(0.05)
    return list(acks)


async def list_acks(world: World, app: AppProcess, rounds: int) -> tuple[list[float], list[float]]:
    """(bare, plugboard) ack latencies in seconds; each round asks as 200 different owners with stored servers."""
    await _round(world, world.bare.url, 0, False)  # warm-up, not counted
    await _round(world, app.url, 9_000, True)
    bare: list[float] = []
    plugboard: list[float] = []
    for index in range(rounds):
        bare += await _round(world, world.bare.url, 0, False)
        plugboard += await _round(world, app.url, index * CONCURRENT, True)
    return bare, plugboard
