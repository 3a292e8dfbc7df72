"""A hostile local server tries to break out of its sandbox; every attempt fails and other owners never notice.

Each server is a real process started through the normal flow (`/mcp add-json` -> Confirm) under the default
sandboxed policy with small limits. After every test no process of ours is left, daemons included.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.domain.owner import Owner
from tests.servers import PYTHON, server_path
from tests.support.canary import running_canary
from tests.support.flows import (
    add_ready_server,
    allow_with_confirmation,
    call,
    descendant_pids,
    live_descendants,
    live_processes,
    result_text,
    wait_until,
)
from tests.support.harness import Harness, SlackUser, policy_toml, text_of

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id="T0TEST", user_id="U0TEST")
BOB_ID = "U0BOB"
PROCESSES, MEMORY_MB, FILE_SIZE_MB = 32, 384, 8
POLICY = policy_toml(
    extra=f"[limits]\nprocesses = {PROCESSES}\nmemory_mb = {MEMORY_MB}\nfile_size_mb = {FILE_SIZE_MB}\n"
)
ESCAPE = {"command": PYTHON, "args": [server_path("escape_server")]}
TINY = {"command": PYTHON, "args": [server_path("tiny_server")]}
APP_SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-canary-bot-token",
    "SLACK_SIGNING_SECRET": "canary-signing-secret",
    "AWS_SECRET_ACCESS_KEY": "canary-aws-secret",
    "DATABASE_URL": "postgres://canary:canary@db/prod",
}
SANDBOX_ENV = {"PATH", "HOME", "LANG", "LOGNAME", "USER", "SHELL", "TERM", "TMPDIR", "PWD", "LC_CTYPE"}


@pytest.fixture(autouse=True)
def nothing_left_running() -> Iterator[None]:
    """Runs around the harness: once the app is closed, none of our processes may remain (zombies aside)."""
    assert live_descendants() == [], "a previous test left a process running"
    yield
    assert live_descendants() == [], "a server process survived the app"
    assert live_processes("escape_server.py --daemon") == [], "a daemon escaped"


@pytest.fixture
async def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    for name, value in APP_SECRETS.items():
        monkeypatch.setenv(name, value)  # in the app's own environment, as in production
    async with Harness.running(tmp_path / "data", policy=POLICY) as running:
        yield running


def in_a_plugboard_memory_cgroup(marker: str) -> bool:
    """Whether the processes running `marker` sit in a memory cgroup Plugboard made (v1 or v2)."""
    found = []
    for pid in descendant_pids(marker):
        try:
            with open(f"/proc/{pid}/cgroup") as handle:
                groups = handle.read()
        except OSError:
            continue
        found.append(bool(re.search(r"^(\d+:([^:]*,)?memory(,[^:]*)?|0:):.*/plugboard/", groups, re.M)))
    return bool(found) and all(found)


def proportional_memory(pid: int) -> int:
    """Bytes of RAM a process holds, shared pages split between their sharers (Pss), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
    except OSError:
        return 0
    return int(fields["Pss"].split()[0]) * 1024


async def alice_with_escape_server(harness: Harness) -> SlackUser:
    alice = harness.user()
    await add_ready_server(alice, "escape", ESCAPE)
    return alice


async def server_home(harness: Harness, owner: Owner, name: str) -> Path:
    record = (await harness.app.servers.get(owner, name)).record
    return harness.data_dir / "users" / owner.id / "servers" / record.id / "home"


async def test_a_sandboxed_server_cannot_read_files_the_app_can_read(harness: Harness, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-canary")
    key_file = harness.data_dir / "encryption.key"
    database = harness.data_dir / "plugboard.sqlite3"
    assert secret.read_text() and key_file.read_bytes() and database.read_bytes()  # the app itself can
    alice = await alice_with_escape_server(harness)
    (await server_home(harness, ALICE, "escape") / "mine.txt").write_text("my own file")

    for path in (secret, key_file, database, Path("/etc/shadow"), Path("/root/.bash_history")):
        answer = result_text(await call(alice, "escape", "read_file", {"path": str(path)}))
        assert answer.startswith("error: FileNotFoundError"), (path, answer)
    outside = result_text(await call(alice, "escape", "read_file", {"path": "../../../" + str(secret)}))
    assert outside.startswith("error: FileNotFoundError"), outside
    mine = result_text(await call(alice, "escape", "read_file", {"path": "/home/plugboard/mine.txt"}))
    assert mine == "my own file"


async def test_a_sandboxed_server_sees_a_cleared_environment_without_any_app_secret(harness: Harness) -> None:
    alice = harness.user()
    entry = {**ESCAPE, "env": {"GREETING": "hi", "STOLEN": "${SLACK_BOT_TOKEN}"}}
    await add_ready_server(alice, "escape", entry)

    env = json.loads(result_text(await call(alice, "escape", "env")))

    assert set(env) <= SANDBOX_ENV | {"GREETING", "STOLEN"}, sorted(env)
    assert env["GREETING"] == "hi" and env["STOLEN"] == "${SLACK_BOT_TOKEN}"  # stored literally, never expanded
    assert env["HOME"] == "/home/plugboard"
    dumped = json.dumps(env)
    assert not any(secret in dumped for secret in APP_SECRETS.values())
    assert "test-signing-secret" not in dumped and "xoxb-" not in dumped


async def test_a_sandboxed_server_runs_without_capabilities_in_its_own_pid_namespace_and_cannot_lift_its_limits(
    harness: Harness,
) -> None:
    alice = await alice_with_escape_server(harness)

    status = result_text(await call(alice, "escape", "read_file", {"path": "/proc/self/status"}))
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    for capability in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(fields[capability].strip(), 16) == 0, (capability, fields[capability])
    assert fields["NoNewPrivs"].strip() == "1"
    whoami = json.loads(result_text(await call(alice, "escape", "whoami")))
    assert whoami["pid"] < 10, whoami  # numbered inside its own PID namespace
    assert "bwrap" in result_text(await call(alice, "escape", "read_file", {"path": "/proc/1/cmdline"}))
    lifted = json.loads(result_text(await call(alice, "escape", "raise_limits")))
    assert all(outcome.startswith("error:") for outcome in lifted.values()), lifted  # even as uid 0 inside
    answer = await call(alice, "escape", "read_file", {"path": "/sys/fs/cgroup/pids/cgroup.procs"})
    assert result_text(answer).startswith("error: FileNotFoundError")  # no way to leave its cgroups


async def test_writes_outside_the_private_home_fail_and_nothing_reaches_the_host(
    harness: Harness, tmp_path: Path
) -> None:
    alice = await alice_with_escape_server(harness)
    bob = harness.user(BOB_ID)
    await add_ready_server(bob, "tiny", TINY)
    bob_home = await server_home(harness, Owner(team_id="T0TEST", user_id=BOB_ID), "tiny")

    refused = await call(alice, "escape", "write_file", {"path": "/home/plugboard/x"})
    assert "is denied" in refused, refused  # a denylisted tool needs an explicit, confirmed allow first
    await allow_with_confirmation(alice, "escape", "write_file")

    targets = {
        tmp_path / "outside.txt": "FileNotFoundError",  # not even visible
        bob_home / "planted.txt": "FileNotFoundError",  # another owner's server folder
        harness.data_dir / "plugboard.sqlite3": "FileNotFoundError",
        Path(server_path("tiny_server")): "OSError",  # visible, but read-only
        Path("/usr/lib/planted.txt"): "OSError",
        Path("/etc/planted.txt"): "OSError",
        Path("/planted.txt"): "OSError",
    }
    for path, error in targets.items():
        before = path.read_bytes() if path.exists() else None
        answer = result_text(await call(alice, "escape", "write_file", {"path": str(path), "text": "pwned"}))
        assert answer.startswith(f"error: {error}"), (path, answer)
        assert (path.read_bytes() if path.exists() else None) == before, path
    assert "Read-only file system" in result_text(await call(alice, "escape", "write_file", {"path": "/planted.txt"}))

    inside = result_text(await call(alice, "escape", "write_file", {"path": "/home/plugboard/notes.txt"}))
    assert inside == "wrote 7 bytes"
    assert (await server_home(harness, ALICE, "escape") / "notes.txt").read_text() == "escaped"


async def test_a_setsid_daemon_left_behind_is_gone_as_soon_as_its_server_stops(harness: Harness) -> None:
    alice = await alice_with_escape_server(harness)
    await allow_with_confirmation(alice, "escape", "spawn_daemon")
    home = await server_home(harness, ALICE, "escape")

    token = result_text(await call(alice, "escape", "spawn_daemon"))
    assert re.fullmatch(r"[0-9a-f]{32}", token), token
    await wait_until(lambda: (home / "daemon.pid").exists(), timeout=10, what="the daemon's pid file")
    assert token in (home / "daemon.pid").read_text()
    assert len(live_processes(token)) == 1  # it really is running, detached in its own session

    await alice.command("disable escape")
    assert "is disabled" in text_of(await alice.reply())
    await wait_until(lambda: not live_processes(token), timeout=10, what="the daemon to die")


async def test_a_fork_bomb_hits_the_process_limit_while_another_owners_server_keeps_answering(
    harness: Harness,
) -> None:
    alice = await alice_with_escape_server(harness)
    bob = harness.user(BOB_ID)
    await add_ready_server(bob, "tiny", TINY)

    answer = result_text(await call(alice, "escape", "fork_bomb"))

    forked = int(answer.split()[1])
    assert answer.startswith("forked") and "then BlockingIOError" in answer, answer
    assert 0 < forked < PROCESSES, answer
    running = [c for c in live_descendants() if "escape_server" in c]
    assert len(running) <= PROCESSES, len(running)
    assert "42" in await call(bob, "tiny", "add", {"a": 40, "b": 2})  # while every bomb process is alive
    assert result_text(await call(alice, "escape", "whoami")).startswith("{")  # the bomber's server answers too

    await alice.command("disable escape")
    assert "is disabled" in text_of(await alice.reply())
    await wait_until(
        lambda: not any("escape_server" in c for c in live_descendants()), timeout=10, what="the bomb to be gone"
    )
    assert "hello" in await call(bob, "tiny", "echo", {"message": "hello"})


async def test_a_memory_hog_is_stopped_at_the_limit_while_another_owners_server_keeps_answering(
    harness: Harness,
) -> None:
    alice = await alice_with_escape_server(harness)
    bob = harness.user(BOB_ID)
    await add_ready_server(bob, "tiny", TINY)
    escape_id = (await harness.app.servers.get(ALICE, "escape")).record.id

    answer = await call(alice, "escape", "allocate", {"mb": 4 * MEMORY_MB})

    if "MemoryError after" in answer:  # no memory cgroup here: the address-space limit stopped it
        assert int(result_text(answer).split()[2]) < MEMORY_MB, answer
    else:  # the memory cgroup's OOM killer stopped the hog (and only it) at the limit
        assert "`escape__allocate` failed" in answer, answer
    assert "42" in await call(bob, "tiny", "add", {"a": 40, "b": 2})
    await wait_until(
        lambda: harness.app.sessions.status(escape_id).state == "ready", timeout=20, what="the hog's server back"
    )
    assert result_text(await call(alice, "escape", "allocate", {"mb": 1})) == "allocated 1 MiB"


async def test_a_memory_hog_that_forks_cannot_hold_more_than_the_limit_in_total(harness: Harness) -> None:
    alice = await alice_with_escape_server(harness)
    if not in_a_plugboard_memory_cgroup("escape_server.py"):
        pytest.skip("no writable memory cgroup on this host: only the per-process address space is limited")
    bob = harness.user(BOB_ID)
    await add_ready_server(bob, "tiny", TINY)
    children, each = 6, MEMORY_MB // 3  # 2x the limit in total, each child well under it

    answer = result_text(await call(alice, "escape", "allocate_in_children", {"children": children, "mb": each}))

    assert not answer.startswith(f"{children} held"), answer  # RLIMIT_AS alone would let all six hold theirs
    held = sum(proportional_memory(pid) for pid in descendant_pids("escape_server.py"))
    assert held < MEMORY_MB * 1024 * 1024, (held, answer)  # measured from outside: the whole tree fits
    assert "42" in await call(bob, "tiny", "add", {"a": 40, "b": 2})


async def test_a_giant_file_stops_at_the_file_size_limit_and_the_server_survives(harness: Harness) -> None:
    alice = await alice_with_escape_server(harness)
    bob = harness.user(BOB_ID)
    await add_ready_server(bob, "tiny", TINY)

    answer = result_text(await call(alice, "escape", "big_file", {"mb": 10 * FILE_SIZE_MB}))

    assert answer.startswith(f"stopped after {FILE_SIZE_MB} MiB: OSError"), answer
    assert "File too large" in answer, answer
    big = await server_home(harness, ALICE, "escape") / "big.bin"
    assert big.stat().st_size <= FILE_SIZE_MB * 1024 * 1024
    assert result_text(await call(alice, "escape", "whoami")).startswith("{")
    assert "42" in await call(bob, "tiny", "add", {"a": 40, "b": 2})


async def test_an_offline_server_cannot_reach_the_network_while_a_default_one_can(harness: Harness) -> None:
    alice = harness.user()
    async with running_canary() as canary:
        await add_ready_server(alice, "online", ESCAPE)
        await alice.command(f"add-json offline {json.dumps({**ESCAPE, 'offline': True})}")
        confirmation = await alice.reply()
        assert "network *off*" in text_of(confirmation), text_of(confirmation)
        await alice.click(confirmation, "change_confirm")
        assert "`offline`: ready" in text_of(await alice.reply(lambda m: "*Done*" in text_of(m)))

        target = {"host": "127.0.0.1", "port": canary.port}
        blocked = result_text(await call(alice, "offline", "connect", target))
        assert blocked.startswith("error:"), blocked
        assert canary.untouched
        assert result_text(await call(alice, "online", "connect", target)) == "connected"
        assert canary.connections == 1


async def test_a_symlink_planted_in_the_home_cannot_carry_the_working_directory_outside_it(
    harness: Harness, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    alice = await alice_with_escape_server(harness)
    linked = result_text(await call(alice, "escape", "symlink", {"target": str(victim), "path": "/home/plugboard/ln"}))
    assert linked == "linked"

    view = await alice.open_modal("edit escape")
    await alice.submit(view, {"command": PYTHON, "args": ESCAPE["args"][0], "env": None, "cwd": "ln/planted"})
    confirmation = await alice.reply()
    await alice.click(confirmation, "change_confirm")
    report = text_of(await alice.reply(lambda m: "*Done*" in text_of(m)))

    assert "leads outside the server's private home" in report, report
    assert list(victim.iterdir()) == []  # nothing was created through the link on the host
