"""`python -m bench.fake_model_process`: the zero-latency fake OpenAI-compatible model in a process of its own, so
serving 50 streamed answers at once does not slow the load generator that times the app.

Every request is answered "ok" in one chunk. Prints `READY <base_url>` once it listens and serves until its stdin
closes.
"""

from __future__ import annotations

import asyncio
import sys

from tests.support.fake_model import FakeModel, Reply


async def serve() -> int:
    async with FakeModel(zero_latency=True, responder=lambda _: Reply("ok", pieces=1)) as model:
        print(f"READY {model.base_url}", flush=True)
        await asyncio.to_thread(sys.stdin.read)  # returns at EOF: the benchmark is done with us
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(serve()))
