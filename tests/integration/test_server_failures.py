"""Servers that fail in every way a user's server can: the owner is told why, and no process is left behind."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from app.domain.owner import Owner
from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from tests.servers import PYTHON, server_path
from tests.support.flows import DONE, all_worked, needs_attention
from tests.support.harness import Harness, SlackUser, text_of
from tests.support.processes import descendants_of
from tests.support.waiting import wait_until

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id="T0TEST", user_id="U0TEST")


# -- helpers ---------------------------------------------------------------------------------------------------


def child_processes() -> dict[int, str]:
    """Every live descendant of this test process (pid -> "state cmdline"), zombies included."""
    return {pid: f"{entry.state} {entry.cmdline}" for pid, entry in descendants_of().items()}


def processes_running(script: str) -> dict[int, str]:
    return {pid: cmd for pid, cmd in child_processes().items() if script in cmd}


async def watch_for(script: str, seen: dict[int, str], *, timeout: float = 10.0) -> None:
    """Poll /proc (bounded) until a process running `script` shows up; remember it in `seen`."""
    seen.update(await wait_until(lambda: processes_running(script), timeout=timeout, what=f"{script} to run"))


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


async def add_and_confirm(
    user: SlackUser, name: str, entry: dict[str, Any], *, ready: bool = False, timeout: float = 30.0
) -> str:
    """Add a server through /mcp add-json, press Confirm, and return the final report's text: it closes with
    `Done` when the server became `ready`, otherwise with what to do next (and never with `Done`)."""
    await user.command(f"add-json {name} {json.dumps(entry)}")
    confirmation = await user.reply()
    assert "change_confirm" in json.dumps(confirmation), text_of(confirmation)
    await user.click(confirmation, "change_confirm")
    done = text_of(await user.reply(all_worked if ready else needs_attention, timeout=timeout))
    assert (DONE in done) == ready, done
    return done


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
    [line] = [line for line in report.splitlines() if line.startswith(":x: `ghost`")][:1]
    assert line.endswith(
        "fix the command with `/mcp edit ghost`, try again with `/mcp reload ghost`, "
        "or ask your Plugboard admin if the host is missing something."
    ), report
    assert report.rstrip().endswith("Press *Edit* to change the command, arguments or environment of `ghost`."), report
    assert "trying again" not in report and "failed starts" not in report, report
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

    assert "`silent`: error — the server did not finish starting within 3 s" in report, report
    # It printed nothing on stdout, so nothing suggests it is not an MCP server.
    assert "speaks stdio" not in report, report
    assert "What you can do: fix the command with `/mcp edit silent`, try again with `/mcp reload silent`" in report
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
        alice,
        "flood",
        {"command": PYTHON, "args": [server_path("stderr_flood_server"), "--bytes", str(8 << 20)]},
        ready=True,
    )
    assert "ready — 1 tool" in report, report

    await alice.command('call flood echo {"message": "still here"}')
    result = await alice.reply()
    assert "still here" in text_of(result), text_of(result)


async def test_a_server_that_crashes_during_a_call_is_restarted_and_works_again(harness: Harness) -> None:
    alice = harness.user()
    log = StatusLog(harness)
    report = await add_and_confirm(
        alice, "crashy", {"command": PYTHON, "args": [server_path("crash_server")]}, ready=True
    )
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
    report = await add_and_confirm(
        alice, "endless", {"command": PYTHON, "args": ["-c", ENDLESS_LINE_SERVER]}, ready=True
    )
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


# -- what a failure message says -------------------------------------------------------------------------------

SECRET_TOKEN = "sk-live-canary-12345"
WHAT_TO_DO = "What you can do: fix the command with `/mcp edit {name}`, try again with `/mcp reload {name}`"


async def final_status(harness: Harness, name: str, *, timeout: float = 20.0) -> ServerStatus:
    """The status once the actor stopped trying (bounded wait)."""
    record = await record_named(harness, name)

    def stopped() -> bool:
        return "Stopped after" in harness.app.sessions.status(record.id).detail

    await wait_until(stopped, timeout=timeout, what=f"{name} to stop retrying")
    return harness.app.sessions.status(record.id)


async def test_a_server_that_prints_its_secret_on_stderr_never_gets_it_shown_in_slack_audit_files_or_logs(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = harness.user()
    entry = {"command": PYTHON, "args": [server_path("secret_echo_server")], "env": {"SECRET_TOKEN": SECRET_TOKEN}}
    report = await add_and_confirm(alice, "leaky", entry)

    marker = "«redacted SECRET_TOKEN»"
    assert "`leaky`: error — the server exited; last stderr lines: " in report, report
    assert f"starting with SECRET_TOKEN={marker} / fatal: upstream refused the token {marker}" in report, report
    assert "npm notice" not in report, report
    final = await final_status(harness, "leaky")
    assert marker in final.detail and SECRET_TOKEN not in final.detail, final.detail
    await alice.command("list")
    listed = text_of(await alice.reply())
    assert marker in listed, listed

    await alice.command("audit 50")
    await alice.reply()

    everything_sent = json.dumps([call.params for call in harness.slack.calls], ensure_ascii=False)
    assert SECRET_TOKEN not in everything_sent
    assert marker in everything_sent
    assert SECRET_TOKEN not in harness.app.sessions.stderr_tail((await record_named(harness, "leaky")).id)
    stored = b"".join(p.read_bytes() for p in harness.data_dir.rglob("*") if p.is_file())
    assert SECRET_TOKEN.encode() not in stored, "the secret is stored in plain text somewhere under the data dir"
    assert SECRET_TOKEN not in caplog.text


async def test_a_server_that_keeps_failing_to_start_stops_after_three_tries_and_reload_tries_again(
    harness: Harness,
) -> None:
    alice = harness.user()
    log = StatusLog(harness)
    failing = "import sys; print('config file missing', file=sys.stderr); sys.exit(2)"
    report = await add_and_confirm(alice, "loop", {"command": PYTHON, "args": ["-c", failing]})

    assert "`loop`: error — the server exited; last stderr line: config file missing" in report, report
    assert "(trying again: failed start 1 of 3)" in report, report
    assert WHAT_TO_DO.format(name="loop") in report, report
    final = await final_status(harness, "loop")
    assert final.state == "error"
    assert final.detail.startswith("the server exited; last stderr line: config file missing. "), final.detail
    assert "Stopped after 3 failed starts in a row. " + WHAT_TO_DO.format(name="loop") in final.detail, final.detail
    await alice.command("list")  # a round trip through the app: no fourth start happened meanwhile
    assert "Stopped after 3 failed starts" in text_of(await alice.reply())
    assert log.states("loop").count("error") == 3, log.states("loop")  # one per failed start
    assert child_processes() == {}

    await alice.command("reload loop")
    await alice.reply(lambda m: "Reloaded" in text_of(m))
    await log.wait_for("loop", lambda states: states.count("error") == 6, timeout=20)
    assert "Stopped after 3 failed starts" in (await final_status(harness, "loop")).detail


async def test_a_server_that_prints_non_mcp_lines_on_stdout_is_asked_whether_it_speaks_stdio(
    quick_harness: Harness,
) -> None:
    alice = quick_harness.user()
    # One burst of a few garbage lines, then quiet: fewer than the 20 that end a session, so the handshake times out.
    entry = {"command": PYTHON, "args": [server_path("garbage_server"), "--interval", "60"]}
    report = await add_and_confirm(alice, "chatty", entry)

    assert (
        "`chatty`: error — the server did not finish starting within 3 s; it printed lines on stdout that are not "
        "MCP messages (is this an MCP server that speaks stdio?)"
    ) in report, report
    assert WHAT_TO_DO.format(name="chatty") in report, report
    await alice.command("disable chatty")
    await alice.reply()
    assert processes_running("garbage_server.py") == {}


NOISY_FAILURE = """
import sys
for line in ["npm warn exec The following package was not found and will be installed: x@1.0.0",
             "npm notice", "npm notice New major version of npm available!", "Resolved 12 packages in 3ms",
             "Installed 12 packages in 2ms", " + mcp==2.3.0", "Error: DATABASE_URL must be set",
             "    at start (/srv/server.js:3:9)", "", "-----", "npm notice To update run: npm install -g npm"]:
    print(line, file=sys.stderr)
sys.exit(1)
"""


async def test_the_failure_message_skips_package_manager_noise_and_shows_the_servers_own_last_words(
    harness: Harness,
) -> None:
    alice = harness.user()
    report = await add_and_confirm(alice, "noisy", {"command": PYTHON, "args": ["-c", NOISY_FAILURE]})

    assert (
        "`noisy`: error — the server exited; last stderr lines: Error: DATABASE_URL must be set / "
        "at start (/srv/server.js:3:9) (trying again: failed start 1 of 3)"
    ) in report, report
    assert "npm" not in report and "Resolved" not in report, report
    await final_status(harness, "noisy")
