"""MCP side: connect + list tools, and sequential tool calls, bare `mcp.Client` vs Plugboard's SessionManager."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Literal, TextIO

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.domain.policy import Limits, LocalServerPolicy
from app.domain.server import ServerRecord
from app.runtime.launcher import DirectLauncher, Launcher, ServerFolders
from app.runtime.sandbox_setup import sandbox_launcher
from app.runtime.server_actor import ActorTimings
from app.runtime.session_manager import SessionManager
from app.runtime.tool_registry import ToolRegistry
from bench.stats import Comparison, Summary
from tests.support.harness import visible_test_paths

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY_SERVER = str(REPO_ROOT / "tests" / "servers" / "tiny_server.py")
PYTHON = sys.executable
OWNER = Owner(team_id="T0BENCH", user_id="U0BENCH")
TIMINGS = ActorTimings(connect_timeout=30.0, request_timeout=30.0, restart_backoff=0.05, max_failed_starts=1)
SETTLE_SECONDS = 30.0
ADD_ARGUMENTS = {"a": 2, "b": 40}


def tiny_record(name: str = "tiny", network: Literal["internet", "none"] | None = None) -> ServerRecord:
    config = LocalServerConfig(command=PYTHON, args=(TINY_SERVER,), network=network)
    return ServerRecord.approved_new(OWNER, name, config, enabled=True, now=time.time())


def _bare_parameters(cwd: Path) -> StdioServerParameters:
    return StdioServerParameters(command=PYTHON, args=[TINY_SERVER], cwd=str(cwd))


@contextmanager
def _devnull() -> Iterator[TextIO]:
    """Where the servers' stderr goes: their request logs are not part of the report."""
    with open(os.devnull, "w") as sink:
        yield sink


@asynccontextmanager
async def _manager(launcher: Launcher) -> AsyncIterator[SessionManager]:
    manager = SessionManager(launcher, ToolRegistry(), TIMINGS)
    try:
        yield manager
    finally:
        await manager.close()


def _check_sum(result: Any) -> None:
    text = "".join(getattr(block, "text", "") for block in result.content)
    if result.is_error or text != "42":
        raise RuntimeError(f"tiny_server add returned {text!r} (is_error={result.is_error})")


# --- (a) connect + list tools -----------------------------------------------------------------------------


async def bare_connect_and_list(runs: int, mode: str, work: Path) -> list[float]:
    samples: list[float] = []
    with _devnull() as sink:
        for _ in range(runs):
            started = time.perf_counter()
            transport = stdio_client(_bare_parameters(work), errlog=sink)
            async with Client(transport, mode=mode, read_timeout_seconds=30.0, cache=None) as client:
                tools = await client.list_tools()
                samples.append(time.perf_counter() - started)
            if {t.name for t in tools.tools} != {"echo", "add"}:
                raise RuntimeError(f"unexpected tools: {[t.name for t in tools.tools]}")
    return samples


async def plugboard_connect_and_list(
    runs: int, launcher: Launcher, network: Literal["internet", "none"] | None = None
) -> list[float]:
    samples: list[float] = []
    async with _manager(launcher) as manager:
        for _ in range(runs):
            record = tiny_record(network=network)
            started = time.perf_counter()
            await manager.start(record)
            status = await manager.wait_settled(record.id, SETTLE_SECONDS)
            samples.append(time.perf_counter() - started)
            if status.state != "ready" or status.tool_count != 2:
                raise RuntimeError(f"tiny_server did not get ready under SessionManager: {status.label()}")
            await manager.stop(record.id)
    return samples


async def connect_and_list(runs: int) -> Comparison:
    with tempfile.TemporaryDirectory(prefix="plugboard-bench-") as tmp:
        work = Path(tmp)
        await bare_connect_and_list(1, "auto", work)  # warm the OS file cache for the interpreter and `mcp`
        bare = await bare_connect_and_list(runs, "auto", work)
        plugboard = await plugboard_connect_and_list(runs, DirectLauncher(ServerFolders(work / "data")))
    return Comparison(
        "connect + list_tools (tiny_server, stdio)",
        "mcp.Client(stdio_client(...), mode='auto')",
        Summary.of(bare),
        Summary.of(plugboard),
        note="start of the process until the tool list is known; SessionManager: start() + wait_settled(), "
        "DirectLauncher (no sandbox), cleared child environment",
    )


async def sandboxed_connect_and_list(
    runs: int, baseline: Summary, network: Literal["internet", "none"]
) -> Comparison | str:
    """The same under the default sandbox, as the app builds it; a reason string when the host cannot sandbox."""
    with tempfile.TemporaryDirectory(prefix="plugboard-bench-") as tmp:
        local = LocalServerPolicy(read_only_paths=tuple(visible_test_paths()))
        setup = await sandbox_launcher(Path(tmp) / "data", local, Limits())
        if setup.problem:
            return setup.problem
        try:
            plugboard = await plugboard_connect_and_list(runs, setup.launcher, network)
        finally:
            await asyncio.to_thread(setup.launcher.close)
    what = "internet: + slirp4netns, routes, nftables" if network == "internet" else "no network"
    return Comparison(
        f"connect + list_tools, sandboxed, network {network}",
        "mcp.Client(stdio_client(...), mode='auto'), no sandbox",
        baseline,
        Summary.of(plugboard),
        note=f"SandboxLauncher as the app builds it (uid, two bwrap stages, seccomp, home image; {what})",
    )


async def legacy_connect_and_list(runs: int) -> Summary:
    with tempfile.TemporaryDirectory(prefix="plugboard-bench-") as tmp:
        return Summary.of(await bare_connect_and_list(runs, "legacy", Path(tmp)))


# --- (b) tool-call latency --------------------------------------------------------------------------------


async def bare_tool_calls(calls: int, warmup: int, work: Path) -> list[float]:
    samples: list[float] = []
    with _devnull() as sink:
        client_cm = Client(stdio_client(_bare_parameters(work), errlog=sink), read_timeout_seconds=30.0, cache=None)
        async with client_cm as client:
            for index in range(warmup + calls):
                started = time.perf_counter()
                result = await client.call_tool("add", ADD_ARGUMENTS)
                elapsed = time.perf_counter() - started
                _check_sum(result)
                if index >= warmup:
                    samples.append(elapsed)
    return samples


async def plugboard_tool_calls(calls: int, warmup: int, launcher: Launcher) -> list[float]:
    samples: list[float] = []
    async with _manager(launcher) as manager:
        record = tiny_record()
        await manager.start(record)
        status = await manager.wait_settled(record.id, SETTLE_SECONDS)
        if status.state != "ready":
            raise RuntimeError(f"tiny_server did not get ready under SessionManager: {status.label()}")
        for index in range(warmup + calls):
            started = time.perf_counter()
            result = await manager.call_tool(record.id, "add", ADD_ARGUMENTS)
            elapsed = time.perf_counter() - started
            _check_sum(result)
            if index >= warmup:
                samples.append(elapsed)
    return samples


async def tool_calls(calls: int, warmup: int = 10) -> Comparison:
    with tempfile.TemporaryDirectory(prefix="plugboard-bench-") as tmp:
        work = Path(tmp)
        bare = await bare_tool_calls(calls, warmup, work)
        plugboard = await plugboard_tool_calls(calls, warmup, DirectLauncher(ServerFolders(work / "data")))
    return Comparison(
        f"tools/call add x{calls} (sequential)",
        "Client.call_tool on one bare session",
        Summary.of(bare),
        Summary.of(plugboard),
        note="SessionManager.call_tool through the server's actor",
    )
