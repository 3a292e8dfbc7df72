"""What every scenario shares: the stores (populated once through the app's own code, copied per run), the fake
Slack process, the response_url receiver, the baseline Bolt process and a way to start `python -m app`."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from app.domain.owner import Owner
from app.domain.server import ServerRecord
from app.store.config_mirror import ConfigMirror
from bench.receiver import ResponseReceiver
from tests.support import slack_payloads as payloads
from tests.support.app_process import (
    AppProcess,
    app_env,
    local_server,
    populate,
    post_slash,
)
from tests.support.harness import SIGNING_SECRET, policy_toml
from tests.support.loopback import free_port
from tests.support.processes import descendants_of

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY_SERVER = str(REPO_ROOT / "tests" / "servers" / "tiny_server.py")
PYTHON = sys.executable
SERVER_NAMES = ("tiny", "tiny2", "tiny3")
STORES = {"empty": 0, "100x3": 100, "10kx3": 10_000}


def owner(index: int) -> Owner:
    return Owner(team_id="T0BENCH", user_id=f"U{index:07d}")


def owner_records(index: int, now: float) -> list[ServerRecord]:
    return [local_server(owner(index), name, PYTHON, [TINY_SERVER], now) for name in SERVER_NAMES]


def _records(owners: int) -> Iterator[ServerRecord]:
    now = time.time()
    for index in range(owners):
        yield from owner_records(index, now)


def _write_mirrors(data_dir: Path, owners: range) -> None:
    """Each owner's mirror files as the app writes them, so a start-up finds them current (the steady state)."""
    mirror = ConfigMirror(data_dir)
    now = time.time()
    for index in owners:
        mirror.sync(owner(index), owner_records(index, now))


async def build_store(data_dir: Path, key: str, owners: int) -> float:
    """Populate a data dir (rows through ServerRepository, mirrors through ConfigMirror); returns seconds taken."""
    started = time.perf_counter()
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    if owners:
        await populate(data_dir, key, _records(owners))
        # Each mirror file is fsynced: many threads keep the disk busy (the work is mostly waiting).
        slices = [range(start, min(start + 250, owners)) for start in range(0, owners, 250)]
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=16) as pool:
            await asyncio.gather(*(loop.run_in_executor(pool, _write_mirrors, data_dir, part) for part in slices))
    return time.perf_counter() - started


class Processes:
    """Counts and sizes read from /proc."""

    @staticmethod
    def servers_under(pid: int) -> int:
        return sum(
            1
            for entry in descendants_of(pid).values()
            if entry.running and TINY_SERVER in entry.argv and Path(entry.argv[0]).name != "bwrap"
        )

    @staticmethod
    def rss_kib(pid: int) -> int:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class World:
    tmp: Path
    key: str
    api_url: str
    bot_token: str
    receiver: ResponseReceiver
    http: httpx2.AsyncClient
    bare: AppProcess
    templates: dict[str, Path]
    sink_url: str  # response_urls whose answers are only counted, in the fake Slack's process
    runs: int = 0

    def fresh_data_dir(self, store: str) -> Path:
        self.runs += 1
        target = self.tmp / f"run{self.runs}" / "data"
        shutil.copytree(self.templates[store], target)
        return target

    async def spawn_app(self, store: str, mode: str) -> AppProcess:
        data_dir = self.fresh_data_dir(store)
        policy_file = data_dir.parent / "policy.toml"
        policy_file.write_text(policy_toml(mode=mode))
        port = free_port()
        env = app_env(data_dir, policy_file, api_url=self.api_url, bot_token=self.bot_token, port=port, key=self.key)
        return await AppProcess.spawn(env, cwd=data_dir.parent, port=port)

    async def slash(
        self, base_url: str, text: str, who: Owner, response_url: str | None = None, trigger_id: str = ""
    ) -> float:
        """POST a signed `/mcp <text>`; returns the ack's latency in seconds."""
        url = response_url or self.receiver.new_url()
        started = time.perf_counter()
        response = await post_slash(self.http, base_url, text, owner=who, response_url=url, trigger_id=trigger_id)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"/mcp {text} answered {response.status_code}: {response.text[:200]}")
        return elapsed

    async def sink_count(self) -> int:
        return int((await self.http.get(f"{self.sink_url}/count")).text)

    async def trigger_id(self, who: Owner) -> str:
        """A fresh trigger_id from the fake Slack, as an interaction payload carries one."""
        return (await self.http.get(f"{self.sink_url}/trigger", params={"user": who.user_id})).text

    async def interact(self, base_url: str, body: str) -> None:
        """POST a signed interaction payload (a modal submission, a click); it must be acknowledged plainly."""
        response = await self.http.post(
            f"{base_url}/slack/events", content=body, headers=payloads.sign(body, SIGNING_SECRET)
        )
        if response.status_code != 200 or response.text:
            raise RuntimeError(f"the interaction was answered {response.status_code}: {response.text[:300]}")


class SlackCalls:
    """The Web API calls the fake Slack (a process of its own) received, read over HTTP."""

    def __init__(self, http: httpx2.AsyncClient, sink_url: str) -> None:
        self._http = http
        self._url = f"{sink_url}/calls"

    async def count(self) -> int:
        """How many calls the fake received so far (a mark for `since`)."""
        total, _ = await self.since(1 << 62)
        return total

    async def since(self, after: int) -> tuple[int, list[tuple[str, str, float]]]:
        """(calls so far, [(method, thread_ts, received_at)] from the `after`-th on)."""
        answer = (await self._http.get(self._url, params={"after": after})).json()
        return int(answer["total"]), [(m, t, float(at)) for m, t, at, *_ in answer["calls"]]

    async def answer_to(self, method: str, after: int, timeout: float = 30.0) -> dict[str, Any]:
        """The fake's answer to the first `method` call from the `after`-th on (waits for it, bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = (await self._http.get(self._url, params={"after": after, "full": "1"})).json()
            for called, _, _, _, response in answer["calls"]:
                if called == method:
                    return dict(response)
            await asyncio.sleep(0.02)
        raise RuntimeError(f"no {method} call within {timeout:g} s")


@asynccontextmanager
async def helper_process(module: str, tmp: Path) -> AsyncIterator[tuple[list[str], asyncio.subprocess.Process]]:
    """`python -m <module>` (a fake of bench/): yields the words after its `READY` line and the process; it serves
    until its stdin closes, and is killed if it is still there at the end."""
    process = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        module,
        cwd=REPO_ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=(tmp / f"{module}.err").open("w"),
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().split()
        if line[:1] != ["READY"]:
            raise RuntimeError(f"{module} did not start: {line}")
        yield line[1:], process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@asynccontextmanager
async def fake_slack_process(tmp: Path) -> AsyncIterator[tuple[str, str, str, asyncio.subprocess.Process]]:
    async with helper_process("bench.fake_slack_process", tmp) as (words, process):
        yield words[0], words[1], words[2], process


@asynccontextmanager
async def fake_model_process(tmp: Path) -> AsyncIterator[str]:
    """The zero-latency fake model's base URL."""
    async with helper_process("bench.fake_model_process", tmp) as (words, process):
        yield words[0]
        assert process.stdin is not None
        process.stdin.close()
        await asyncio.wait_for(process.wait(), 30)


async def stop_fake_slack(process: asyncio.subprocess.Process) -> int:
    """Close its stdin; it reports how many of Slack's rules the apps broke."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.close()
    output = (await asyncio.wait_for(process.stdout.read(), 30)).decode().split()
    await process.wait()
    return int(output[output.index("PROBLEMS") + 1]) if "PROBLEMS" in output else -1


async def spawn_bare_bolt(tmp: Path, api_url: str, bot_token: str) -> AppProcess:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO_ROOT),
        "SLACK_API_URL": api_url,
        "SLACK_BOT_TOKEN": bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "PORT": str(port),
        "BENCH_SERVER": json.dumps([PYTHON, TINY_SERVER]),
    }
    return await AppProcess.spawn(env, cwd=tmp, port=port, argv=("-m", "bench.bare_bolt"))
