"""Servers that fail in every way a user's server can: the owner is told why, and no process is left behind."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from app.domain.owner import Owner
from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from tests.servers import PYTHON, server_path
from tests.support.harness import Harness, SlackUser, text_of

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id="T0TEST", user_id="U0TEST")


# -- helpers ---------------------------------------------------------------------------------------------------


def child_processes() -> dict[int, str]:
    """Every live descendant of this test process (pid -> "state cmdline"), zombies included."""
    parents: dict[int, int] = {}
    described: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                stat = handle.read().decode(errors="replace")
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        parents[pid] = int(fields[1])
        described[pid] = f"{fields[0]} {cmdline}"
    found: dict[int, str] = {}
    frontier = [os.getpid()]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = described[pid]
                frontier.append(pid)
    return found


def processes_running(script: str) -> dict[int, str]:
    return {pid: cmd for pid, cmd in child_processes().items() if script in cmd}


async def watch_for(script: str, seen: dict[int, str], *, timeout: float = 10.0) -> None:
    """Poll /proc (bounded) until a process running `script` shows up; remember it in `seen`."""
    with anyio.fail_after(timeout):
        while not seen:
            seen.update(processes_running(script))
            await anyio.sleep(0.02)


class StatusLog:
    """Every status change of the app's servers, with the child processes alive at that very moment."""

    def __init__(self, harness: Harness) -> None:
        self.changes: list[tuple[str, ServerStatus, dict[int, str]]] = []
        self._changed = anyio.Event()
        harness.app.sessions.on_status(self._record)

    def _record(self, record: ServerRecord, status: ServerStatus) -> None:
        self.changes.append((record.name, status, child_processes()))
        self._changed.set()

    def states(self, name: str) -> list[str]:
        return [status.state for n, status, _ in self.changes if n == name]

    async def wait_for(self, name: str, predicate: Any, *, timeout: float) -> None:
        with anyio.fail_after(timeout):
            while not predicate(self.states(name)):
                self._changed = anyio.Event()
                await self._changed.wait()


async def add_and_confirm(user: SlackUser, name: str, entry: dict[str, Any], *, timeout: float = 30.0) -> str:
    """Add a server through /mcp add-json, press Confirm, and return the final report's text."""
    await user.command(f"add-json {name} {json.dumps(entry)}")
    confirmation = await user.reply()
    assert "change_confirm" in json.dumps(confirmation), text_of(confirmation)
    await user.click(confirmation, "change_confirm")
    done = await user.reply(lambda m: "*Done*" in text_of(m), timeout=timeout)
    return text_of(done)


async def record_named(harness: Harness, name: str) -> ServerRecord:
    return (await harness.app.servers.get(ALICE, name)).record


@pytest.fixture(autouse=True)
def no_process_survives() -> Iterator[None]:
    """Set up before the harness, so this check runs after the app has closed."""
    yield
    assert child_processes() == {}, "a server process outlived the app"


@pytest.fixture
async def quick_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with Harness.running(tmp_path / "data", plugboard_connect_timeout=3) as running:
        yield running


# -- tests -----------------------------------------------------------------------------------------------------


async def test_a_command_that_does_not_exist_is_reported_as_not_found_and_nothing_runs(harness: Harness) -> None:
    alice = harness.user()
    log = StatusLog(harness)
    report = await add_and_confirm(alice, "ghost", {"command": "plugboard-no-such-command-xyz"})

    assert "error — the command `plugboard-no-such-command-xyz` was not found" in report, report
    assert child_processes() == {}
    # Not retried: a missing program does not appear by trying again.
    assert log.states("ghost")[-1] == "error"
    assert (await harness.app.servers.get(ALICE, "ghost")).status.state == "error"


async def test_an_absolute_command_path_that_does_not_exist_is_reported_as_not_found(harness: Harness) -> None:
    alice = harness.user()
    report = await add_and_confirm(alice, "ghost", {"command": "/usr/bin/plugboard-no-such-command-xyz"})

    assert "the command `/usr/bin/plugboard-no-such-command-xyz` was not found" in report, report
    assert child_processes() == {}


async def test_a_server_that_never_answers_initialize_times_out_and_its_process_is_killed(
    quick_harness: Harness,
) -> None:
    harness = quick_harness
    alice = harness.user()
    log = StatusLog(harness)
    seen: dict[int, str] = {}
    started = anyio.current_time()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watch_for, "silent_server.py", seen)
        report = await add_and_confirm(alice, "silent", {"command": PYTHON, "args": [server_path("silent_server")]})
    elapsed = anyio.current_time() - started
    assert seen, "the silent server never ran"

    assert "did not complete the MCP handshake within 3 s" in report, report
    assert elapsed < 15, f"the handshake timeout took {elapsed:.1f} s"
    # The process was gone by the time the owner was told about the error.
    errors = [(status, alive) for name, status, alive in log.changes if name == "silent" and status.state == "error"]
    assert errors, log.changes
    for _, alive in errors:
        assert not any("silent_server.py" in cmd for cmd in alive.values()), alive
    assert not set(seen) & set(errors[0][1])

    await alice.command("disable silent")
    disabled = await alice.reply()
    assert "disabled" in text_of(disabled)
    assert processes_running("silent_server.py") == {}


async def test_a_server_that_writes_garbage_on_stdout_gets_a_clear_error_and_is_stopped(
    quick_harness: Harness,
) -> None:
    harness = quick_harness
    alice = harness.user()
    log = StatusLog(harness)
    report = await add_and_confirm(alice, "garbage", {"command": PYTHON, "args": [server_path("garbage_server")]})

    assert "not MCP messages" in report and "stdout must carry only MCP JSON" in report, report
    errors = [alive for name, status, alive in log.changes if name == "garbage" and status.state == "error"]
    assert errors
    for alive in errors:
        assert not any("garbage_server.py" in cmd for cmd in alive.values()), alive

    await alice.command("disable garbage")
    await alice.reply()
    assert processes_running("garbage_server.py") == {}


async def test_a_server_flooding_stderr_still_becomes_ready_and_answers(harness: Harness) -> None:
    alice = harness.user()
    report = await add_and_confirm(
        alice, "flood", {"command": PYTHON, "args": [server_path("stderr_flood_server"), "--bytes", str(8 << 20)]}
    )
    assert "ready — 1 tool" in report, report

    await alice.command('call flood echo {"message": "still here"}')
    result = await alice.reply()
    assert "still here" in text_of(result), text_of(result)


async def test_a_server_that_crashes_during_a_call_is_restarted_and_works_again(harness: Harness) -> None:
    alice = harness.user()
    log = StatusLog(harness)
    report = await add_and_confirm(alice, "crashy", {"command": PYTHON, "args": [server_path("crash_server")]})
    assert "ready — 2 tools" in report, report
    first_pids = set(processes_running("crash_server.py"))
    assert first_pids

    await alice.command("call crashy crash")
    failed = await alice.reply()
    assert ":x: `crashy__crash` failed" in text_of(failed), text_of(failed)

    def came_back(states: list[str]) -> bool:
        after_ready = states[states.index("ready") + 1 :] if "ready" in states else []
        return any(s != "ready" for s in after_ready) and after_ready[-1:] == ["ready"]

    await log.wait_for("crashy", came_back, timeout=20)
    assert (await harness.app.servers.get(ALICE, "crashy")).status.state == "ready"
    assert not first_pids & set(processes_running("crash_server.py")), "the crashed process is still there"

    await alice.command("call crashy ping")
    pong = await alice.reply()
    assert "pong" in text_of(pong), text_of(pong)


# Hand-rolled (stdlib only): the SDK's server moves the wire off fd 1, so a tool could not flood it.
ENDLESS_LINE_SERVER = """
import json, os, sys

VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
FLOOD = {"name": "flood", "description": "Write one endless line.", "inputSchema": {"type": "object"}}


def send(message):
    os.write(1, (json.dumps(message) + "\\n").encode())


for line in sys.stdin:
    message = json.loads(line)
    method, request_id = message.get("method"), message.get("id")
    if request_id is None or method is None:
        continue
    if method == "initialize":
        asked = message["params"].get("protocolVersion")
        result = {"protocolVersion": asked if asked in VERSIONS else VERSIONS[-1], "capabilities": {"tools": {}},
                  "serverInfo": {"name": "endless-line", "version": "1.0.0"}}
    elif method == "tools/list":
        result = {"tools": [FLOOD]}
    elif method == "tools/call":
        chunk = b"x" * 65536
        while True:
            os.write(1, chunk)
    else:
        send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": "Method not found"}})
        continue
    send({"jsonrpc": "2.0", "id": request_id, "result": result})
"""


def resident_megabytes() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


async def test_a_server_writing_an_endless_line_on_stdout_is_stopped_and_memory_stays_flat(harness: Harness) -> None:
    alice = harness.user()
    log = StatusLog(harness)
    report = await add_and_confirm(alice, "endless", {"command": PYTHON, "args": ["-c", ENDLESS_LINE_SERVER]})
    assert "ready — 1 tool" in report, report
    baseline = resident_megabytes()

    await alice.command("call endless flood")

    def stopped(states: list[str]) -> bool:
        return states[-1:] == ["error"]

    with anyio.move_on_after(10):
        await log.wait_for("endless", stopped, timeout=10)
    grown = resident_megabytes() - baseline
    states = log.states("endless")
    await alice.command("disable endless")
    await alice.reply()

    assert grown < 64, f"the app buffered {grown:.0f} MB of one stdout line (states: {states})"
    details = [s.detail for name, s, _ in log.changes if name == "endless" and s.state == "error"]
    assert details, f"the server was never stopped (states: {states}; app grew {grown:.0f} MB meanwhile)"
    assert "line" in details[0] and "MiB" in details[0], details[0]
