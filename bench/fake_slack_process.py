"""`python -m bench.fake_slack_process`: the fake Slack Web API in a process of its own, plus a response_url sink.

Prints `READY <api_url> <bot_token> <sink_url>` once it listens, serves until its stdin closes, then prints
`PROBLEMS <n>` (how many of Slack's rules the apps broke) and exits. The sink takes answers the benchmark only
needs counted (`POST <sink_url>/hook/<id>`; `GET <sink_url>/count`), so the load generator does not serve them.
`GET <sink_url>/calls?after=<n>` lists the Web API calls from the n-th on as `[method, thread_ts, received_at]`
(`time.monotonic()`, one clock for every process on the machine): the assistant's first bytes are timed from it;
with `&full=1` each entry also has the call's params and the fake's answer. `GET <sink_url>/trigger?user=<id>` issues
a trigger_id as an interaction payload carries one (for a benchmark that opens and submits a modal).
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web

from tests.support.fake_slack import FakeSlack


async def _sink(slack: FakeSlack) -> tuple[web.AppRunner, str, list[int]]:
    received = [0]

    async def take(request: web.Request) -> web.Response:
        await request.read()
        received[0] += 1
        return web.Response(text="ok")

    async def count(_: web.Request) -> web.Response:
        return web.Response(text=str(received[0]))

    async def calls(request: web.Request) -> web.Response:
        after = int(request.query.get("after", "0"))
        full = request.query.get("full") == "1"
        listed = [
            [c.method, str(c.params.get("thread_ts") or ""), c.received_at, *([c.params, c.response] if full else [])]
            for c in slack.calls[after:]
        ]
        return web.json_response({"total": len(slack.calls), "calls": listed})

    async def trigger(request: web.Request) -> web.Response:
        return web.Response(text=slack.issue_trigger_id(request.query["user"]))

    app = web.Application()
    app.router.add_post("/hook/{id}", take)
    app.router.add_get("/count", count)
    app.router.add_get("/calls", calls)
    app.router.add_get("/trigger", trigger)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}", received


async def serve() -> int:
    async with FakeSlack() as slack:
        runner, sink_url, _ = await _sink(slack)
        try:
            print(f"READY {slack.api_url} {slack.bot_token} {sink_url}", flush=True)
            await asyncio.to_thread(sys.stdin.read)  # returns at EOF: the benchmark is done with us
        finally:
            await runner.cleanup()
        print(f"PROBLEMS {len(slack.problems)}", flush=True)
        for problem in slack.problems[:5]:
            print(f"problem: {problem}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(serve()))
