"""Tool calls from Slack, end to end (signed `/mcp call` → result at response_url), through Plugboard's real
ToolService vs the bare Bolt app calling a bare `mcp.Client` session of the same server; and a restart
(`/mcp reload`) until the new copy's tools are ready vs the bare app's `/mcp reload` (a bare connect + list_tools)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from bench.world import World, owner

ADD = 'call tiny add {"a": 2, "b": 40}'
WARM_TIMEOUT = 120.0


def _is_sum(message: dict[str, Any]) -> bool:
    text = json.dumps(message)
    return "42" in text and ":x:" not in text


def _reported(message: dict[str, Any]) -> bool:
    text = json.dumps(message)
    return ":white_check_mark:" in text or ":x:" in text


def _settled(message: dict[str, Any]) -> bool:
    return "text" in message


async def one_call(world: World, base_url: str, who: int) -> float:
    """Seconds from the POST until the correct result arrived at response_url."""
    url = world.receiver.new_url()
    started = time.perf_counter()
    await world.slash(base_url, ADD, owner(who), url)
    arrived, message = await world.receiver.wait(url, _settled)
    world.receiver.forget(url)
    if not _is_sum(message):
        raise RuntimeError(f"the call failed: {json.dumps(message)[:300]}")
    return arrived - started


async def warm(world: World, base_url: str, owners: range) -> None:
    """First calls start the servers (lazily or not): retry each owner's until it answers."""
    deadline = time.monotonic() + WARM_TIMEOUT
    semaphore = asyncio.Semaphore(8)  # starting 50 interpreters at once on 2 cores only makes them all slow

    async def until_ok(who: int) -> None:
        async with semaphore:
            while True:
                try:
                    await one_call(world, base_url, who)
                    return
                except RuntimeError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)

    await asyncio.gather(*(until_ok(who) for who in owners))


async def sequential(world: World, base_urls: tuple[str, str], blocks: int, per_block: int) -> tuple[list[float], ...]:
    """(bare, plugboard) latencies, one owner each, in alternating blocks."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(blocks):
        for side, base_url in enumerate(base_urls):
            for _ in range(per_block):
                samples[side].append(await one_call(world, base_url, 0))
    return samples


async def throughput(world: World, base_url: str, sessions: int, seconds: float) -> float:
    """Calls per second with `sessions` owners calling their own server back to back."""
    stop_at = time.perf_counter() + seconds
    done = [0] * sessions

    async def worker(who: int) -> None:
        while time.perf_counter() < stop_at:
            await one_call(world, base_url, who)
            done[who] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(who) for who in range(sessions)))
    return sum(done) / (time.perf_counter() - started)


async def reload_ready(world: World, base_url: str, who: int) -> float:
    url = world.receiver.new_url()
    started = time.perf_counter()
    await world.slash(base_url, "reload tiny", owner(who), url)
    arrived, message = await world.receiver.wait(
        url, lambda m: ":white_check_mark:" in json.dumps(m) or ":x:" in json.dumps(m)
    )
    world.receiver.forget(url)
    if ":x:" in json.dumps(message):
        raise RuntimeError(f"reload failed: {json.dumps(message)[:300]}")
    return arrived - started
