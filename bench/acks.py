"""`/mcp list` acks under 200 concurrent requests: Plugboard (10k x 3 stored) vs the bare Bolt app, interleaved.

The 200 requests are built and their connections opened first, then written at once (`bench.raw_http`): an ack
is timed from its request's write to its answer's arrival, so the load generator's own HTTP client is not what is
measured. Plugboard answers `list` through response_url after the ack; those answers go to the fake Slack process's sink
(not to the load generator, which would then be busier during Plugboard's rounds than during the baseline's), and
each round waits for them to land before the next one starts.
"""

from __future__ import annotations

import asyncio
import itertools
import time

from bench.raw_http import RawPoster
from bench.world import World, owner
from tests.support import slack_payloads as payloads
from tests.support.app_process import AppProcess
from tests.support.harness import SIGNING_SECRET

CONCURRENT = 200
ANSWERS_TIMEOUT = 120.0
_hook_ids = itertools.count()


async def _round(world: World, base_url: str, first_owner: int, answered: bool) -> list[float]:
    before = await world.sink_count()
    requests: list[tuple[bytes, dict[str, str]]] = []
    for index in range(CONCURRENT):
        who = owner(first_owner + index)
        url = f"{world.sink_url}/hook/a{next(_hook_ids)}"
        body = payloads.slash_command(
            "list", user_id=who.user_id, team_id=who.team_id, trigger_id=f"{index}.bench", response_url=url
        )
        requests.append((body.encode(), payloads.sign(body, SIGNING_SECRET)))
    exchanged = await RawPoster(f"{base_url}/slack/events").exchange_all(requests)
    acks = [answered_at - written for written, answered_at in exchanged]
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
