"""`python -m bench`: populate the stores, start the processes, run every scenario interleaved with its baseline,
print one table (with the machine's load average) and write bench/results.json."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx2

from bench import assistant_bench
from bench.acks import CONCURRENT, list_acks
from bench.edits import edit_ready
from bench.receiver import ResponseReceiver
from bench.startup import WINDOW_SECONDS, StartUp, measure_start
from bench.stats import Row, median, ms, percentile, ratio, table
from bench.tool_calls import reload_ready, sequential, throughput, warm
from bench.world import STORES, World, build_store, fake_slack_process, spawn_bare_bolt, stop_fake_slack
from tests.support.app_process import AppProcess, new_encryption_key

RESULTS = Path(__file__).resolve().parent / "results.json"
START_ROUNDS = 2
ACK_ROUNDS = 3
SESSIONS = 50
CALL_BLOCKS, CALLS_PER_BLOCK = 30, 5  # short alternating blocks: both sides see the same background load
THROUGHPUT_ROUNDS, THROUGHPUT_SECONDS = 4, 2.0
RELOADS = 3
EDITS = 3
_STARTED = time.perf_counter()


def progress(what: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:5.0f} s] {what}", file=sys.stderr, flush=True)


async def _stop(app: AppProcess) -> None:
    try:
        await app.stop()
    finally:
        await app.reap()


async def _start_ups(world: World) -> tuple[dict[str, list[StartUp]], AppProcess]:
    """The empty and 10k stores START_ROUNDS times, interleaved (100 x 3 once); the last 10k start stays up for the
    ack scenario."""
    results: dict[str, list[StartUp]] = {store: [] for store in STORES}
    kept: AppProcess | None = None
    for round_index in range(START_ROUNDS):
        for store in STORES:
            if store == "100x3" and round_index:  # once is enough for the in-between store (5 minutes in all)
                continue
            result, app = await measure_start(world, store)
            progress(f"start-up on {store}: healthy after {result.to_healthy:.2f} s")
            results[store].append(result)
            if round_index == START_ROUNDS - 1 and store == "10kx3":
                kept = app
            else:
                await _stop(app)
    assert kept is not None
    return results, kept


async def _tool_scenarios(world: World, http: httpx2.AsyncClient) -> dict[str, list[float]]:
    app = await world.spawn_app("10kx3", "trusted")
    try:
        await app.wait_healthy(http)
        await asyncio.gather(warm(world, world.bare.url, range(SESSIONS)), warm(world, app.url, range(SESSIONS)))
        progress(f"{SESSIONS} sessions warm on both sides")
        bare_calls, plugboard_calls = await sequential(world, (world.bare.url, app.url), CALL_BLOCKS, CALLS_PER_BLOCK)
        figures: dict[str, list[float]] = {
            "bare_call": bare_calls,
            "plugboard_call": plugboard_calls,
            "bare_throughput": [],
            "plugboard_throughput": [],
            "bare_reload": [],
            "plugboard_reload": [],
            "bare_connect": [],
            "plugboard_edit": [],
        }
        for _ in range(THROUGHPUT_ROUNDS):
            figures["bare_throughput"].append(await throughput(world, world.bare.url, SESSIONS, THROUGHPUT_SECONDS))
            figures["plugboard_throughput"].append(await throughput(world, app.url, SESSIONS, THROUGHPUT_SECONDS))
        progress("throughput done")
        for _ in range(RELOADS):
            figures["bare_reload"].append(await reload_ready(world, world.bare.url, 0))
            figures["plugboard_reload"].append(await reload_ready(world, app.url, 0))
        for edition in range(EDITS):
            figures["bare_connect"].append(await reload_ready(world, world.bare.url, 0))
            figures["plugboard_edit"].append(await edit_ready(world, app.url, 0, edition))
        progress("reloads and edits done")
        return figures
    finally:
        await _stop(app)


def _rows(starts: dict[str, list[StartUp]], acks: tuple[list[float], list[float]], tools: dict[str, Any]) -> list[Row]:
    bare_acks, plugboard_acks = acks
    ack_ratio = ratio(percentile(plugboard_acks, 0.99), percentile(bare_acks, 0.99))

    def startup_median(store: str, field: str) -> float:
        return median([getattr(s, field) for s in starts[store]])

    empty_healthy, big_healthy = startup_median("empty", "to_healthy"), startup_median("10kx3", "to_healthy")
    small_healthy = startup_median("100x3", "to_healthy")
    worst_health = max(s.health_max for s in starts["10kx3"])
    processes = max(s.server_processes for s in starts["10kx3"])
    empty_rss, big_rss = startup_median("empty", "rss_kib"), startup_median("10kx3", "rss_kib")
    bare_call, plugboard_call = median(tools["bare_call"]), median(tools["plugboard_call"])
    bare_tput, plugboard_tput = median(tools["bare_throughput"]), median(tools["plugboard_throughput"])
    bare_reload, plugboard_reload = median(tools["bare_reload"]), median(tools["plugboard_reload"])
    bare_connect, plugboard_edit = median(tools["bare_connect"]), median(tools["plugboard_edit"])
    call_ratio, tput_ratio = ratio(plugboard_call, bare_call), ratio(plugboard_tput, bare_tput)
    return [
        Row(
            f"/mcp list ack p99, {CONCURRENT} concurrent, 10k x 3 stored",
            f"bare Bolt {ms(percentile(bare_acks, 0.99))} (p50 {ms(median(bare_acks))})",
            f"{ms(percentile(plugboard_acks, 0.99))} (p50 {ms(median(plugboard_acks))})",
            f"{ack_ratio:.2f}x",
            "<= 1.2x",
            ack_ratio <= 1.2,
        ),
        Row(
            "start-up: spawn -> /healthz 200, 10k x 3 stored",
            f"empty store {ms(empty_healthy)}",
            f"{ms(big_healthy)} (100 x 3: {ms(small_healthy)})",
            f"{(big_healthy - empty_healthy) * 1000:+.0f} ms",
            "<= +1000 ms",
            big_healthy - empty_healthy <= 1.0,
        ),
        Row(
            f"start-up: /healthz worst latency, first {WINDOW_SECONDS:.0f} s up, 10k x 3",
            f"empty store {ms(max(s.health_max for s in starts['empty']))}",
            ms(worst_health),
            ms(worst_health),
            "< 100 ms",
            worst_health < 0.1,
        ),
        Row(
            f"start-up: server processes {WINDOW_SECONDS:.0f} s after healthy, 10k x 3",
            "empty store 0",
            str(processes),
            str(processes),
            "0",
            processes == 0,
        ),
        Row(
            "tool call p50, end to end (trusted mode)",
            f"bare Bolt + bare mcp.Client {ms(bare_call)}",
            ms(plugboard_call),
            f"{call_ratio:.2f}x ({(plugboard_call - bare_call) * 1000:+.1f} ms)",
            "<= 1.10x",
            call_ratio <= 1.10,
        ),
        Row(
            f"{SESSIONS} sessions' call throughput (trusted mode)",
            f"bare {bare_tput:.0f} calls/s",
            f"{plugboard_tput:.0f} calls/s",
            f"{tput_ratio:.2f}x",
            ">= 0.9x",
            tput_ratio >= 0.9,
        ),
        Row(
            "/mcp reload -> new copy's tools ready, minus a bare connect",
            f"bare connect + list {ms(bare_reload)}",
            ms(plugboard_reload),
            f"{(plugboard_reload - bare_reload) * 1000:+.0f} ms",
            "< 50 ms",
            plugboard_reload - bare_reload < 0.05,
        ),
        Row(
            "edit (modal, review, Confirm) -> new copy ready, minus a bare connect",
            f"bare connect + list {ms(bare_connect)}",
            f"{ms(plugboard_edit)} from the Confirm click",
            f"{(plugboard_edit - bare_connect) * 1000:+.0f} ms",
            "< 50 ms",
            plugboard_edit - bare_connect < 0.05,
        ),
        Row(
            "RSS of the app, 10k owners stored, none live",
            f"none stored {empty_rss / 1024:.0f} MiB",
            f"{big_rss / 1024:.0f} MiB",
            f"{ratio(big_rss, empty_rss):.2f}x",
            "< 1.2x",
            ratio(big_rss, empty_rss) < 1.2,
        ),
    ]


async def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="plugboard-bench-") as tmp_name:
        tmp = Path(tmp_name)
        key = new_encryption_key()
        templates = {store: tmp / "stores" / store / "data" for store in STORES}
        built = {store: await build_store(templates[store], key, owners) for store, owners in STORES.items()}
        progress("stores built")
        # Idle connections are dropped before uvicorn's 5 s keep-alive ends, so none is reused as the server closes it.
        limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=1000, keepalive_expiry=1.0)
        async with (
            fake_slack_process(tmp) as (api_url, bot_token, sink_url, slack_process),
            ResponseReceiver() as receiver,
            httpx2.AsyncClient(timeout=60.0, limits=limits) as http,
        ):
            bare = await spawn_bare_bolt(tmp, api_url, bot_token)
            try:
                await bare.wait_healthy(http)
                world = World(tmp, key, api_url, bot_token, receiver, http, bare, templates, sink_url)
                starts, kept = await _start_ups(world)
                try:
                    acks = await list_acks(world, kept, ACK_ROUNDS)
                    progress("acks done")
                finally:
                    await _stop(kept)
                tools = await _tool_scenarios(world, http)
            finally:
                await _stop(bare)
            problems = await stop_fake_slack(slack_process)
    return {"built": built, "starts": starts, "acks": acks, "tools": tools, "slack_problems": problems}


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    load_before = os.getloadavg()
    started = time.perf_counter()
    figures = asyncio.run(run())
    progress("assistant scenarios")
    assistant_rows = asyncio.run(assistant_bench.run())
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()
    rows = [*_rows(figures["starts"], figures["acks"], figures["tools"]), *assistant_rows]

    print(table(rows))
    print(
        f"load average (1/5/15 min): {' '.join(f'{x:.2f}' for x in load_before)} before, "
        f"{' '.join(f'{x:.2f}' for x in load_after)} after, on {os.cpu_count()} CPUs; total {elapsed:.0f} s"
    )
    print(
        "Every figure is from this run: app, bare Bolt app, fake Slack and load generator are separate processes "
        "on 127.0.0.1. Start-ups and acks use the default sandboxed policy; tool calls, throughput and reload use "
        "a trusted-mode policy (no sandbox) to show Plugboard's own overhead. Call latency is a signed `/mcp call` "
        "until its result reaches response_url. Stores were filled through ServerRepository and ConfigMirror "
        "(mirrors current, as after a clean stop): "
        + ", ".join(f"{store} in {seconds:.1f} s" for store, seconds in figures["built"].items())
        + f". Slack rules broken: {figures['slack_problems']}."
    )
    print(
        "Assistant rows: a zero-latency fake OpenAI-compatible model (a process of its own, like the fake Slack); "
        "first byte = the DM's POST until the app's "
        "first call to Slack for that thread (bare: a Bolt app that sets the thread status at once); the tool call "
        "row compares the assistant's toolbox (catalog lookup, schema check, ToolService.call) with ToolService.call "
        "alone, in one process, interleaved."
    )
    results = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "total_seconds": round(elapsed, 1),
        "rows": [asdict(row) for row in rows],
        "start_ups": {store: [asdict(s) for s in runs] for store, runs in figures["starts"].items()},
        "samples_seconds": {"acks_bare": figures["acks"][0], "acks_plugboard": figures["acks"][1], **figures["tools"]},
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
