"""`python -m bench`: run every benchmark once, print a table of ratios, write bench/results.json."""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.mcp_bench import connect_and_list, legacy_connect_and_list, sandboxed_connect_and_list, tool_calls
from bench.slack_bench import slack_acks
from bench.stats import Comparison, table

RESULTS = Path(__file__).resolve().parent / "results.json"
CONNECT_RUNS = 10
TOOL_CALLS = 200
ACK_REQUESTS = 200


async def run() -> tuple[list[Comparison], dict[str, Any]]:
    comparisons = [await connect_and_list(CONNECT_RUNS)]
    extra: dict[str, Any] = {}
    for network in ("none", "internet"):
        try:
            sandboxed = await sandboxed_connect_and_list(CONNECT_RUNS, comparisons[0].baseline, network)
        except Exception as exc:  # boundary: the sandbox rows are optional; the others still tell their story
            sandboxed = f"{type(exc).__name__}: {exc}"
        if isinstance(sandboxed, str):
            extra["sandboxed_skipped"] = sandboxed
        else:
            comparisons.append(sandboxed)
    extra["bare_connect_and_list_legacy_mode"] = (await legacy_connect_and_list(CONNECT_RUNS)).as_ms()
    comparisons.append(await tool_calls(TOOL_CALLS))
    comparisons.extend(await slack_acks(ACK_REQUESTS))
    return comparisons, extra


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    comparisons, extra = asyncio.run(run())
    elapsed = time.perf_counter() - started

    print(table([c.row() for c in comparisons]))
    print("ratio = plugboard / bare (1.00x = no overhead); times in milliseconds")
    legacy = extra["bare_connect_and_list_legacy_mode"]
    print(f"for reference: bare connect + list with mode='legacy': median {legacy['median_ms']:.2f} ms")
    if "sandboxed_skipped" in extra:
        print(f"sandboxed row skipped: {extra['sandboxed_skipped']}")
    print(f"total {elapsed:.1f} s; details in {RESULTS}")

    results = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {name: version(name) for name in ("mcp", "slack-bolt", "slack-sdk")},
        "total_seconds": round(elapsed, 2),
        "benchmarks": {c.name: c.as_json() for c in comparisons},
        "extra": extra,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
