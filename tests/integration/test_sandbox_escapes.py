"""A hostile local server tries to break out of its sandbox; every attempt fails and other owners never notice.

Each server is a real process started through the normal flow (`/mcp add-json` -> Confirm) under the default
sandboxed policy with small limits. After every test no process of ours is left, daemons included.

The tests that use `contract_harness` hold the sandbox to its full contract: an unprivileged host uid per owner,
no way into the kernel's settings, no user namespaces, a seccomp filter, the app's own files masked wherever they
live, a network namespace that reaches neither the host nor private networks (only what the admin allowlists),
and a disk quota on each home. Network probes send packets only to loopback canaries (127.0.0.1, and the slirp
gateway 10.0.2.2 once the server is known to have its own network namespace); every other address is only
route-looked-up (`route_lookup`: a UDP connect, which sends nothing).
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn

from app.domain.owner import Owner
from app.domain.policy import PolicyError
from app.runtime.child_environment import admin_environment
from tests.servers import PYTHON, server_path
from tests.support.canary import running_canary
from tests.support.flows import (
    add_ready_server,
    allow_with_confirmation,
    call,
    needs_attention,
    result_text,
)
from tests.support.harness import Harness, SlackUser, policy_toml, text_of, visible_test_paths
from tests.support.network_facts import allow_networks_toml, host_ipv4_addresses, registry_networks
from tests.support.processes import descendant_pids, live_descendants, live_processes, process
from tests.support.waiting import wait_until

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
SANDBOX_ENV |= {"npm_config_cache", "UV_CACHE_DIR"}  # the owner's shared package caches
MIB = 1024 * 1024
BOB = Owner(team_id="T0TEST", user_id=BOB_ID)
UID_BASE = 200_000  # the policy's default [local_servers] uid_base
HOME_QUOTA_MB = 16
ALLOWED_ADDRESS = "198.51.100.7"  # a documentation address the contract policy allowlists; only route-looked-up
BLOCKED_ADDRESSES = ("10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254")
SLIRP_GATEWAY = "10.0.2.2"  # slirp4netns's alias for the host's loopback, unless (as Plugboard does) disabled
DOTENV_SECRET = "xoxb-canary-dotenv-token"
DAEMON_DEATH_SECONDS = 10
# What a route lookup gives where the sandbox has an unreachable route: ENETUNREACH or EHOSTUNREACH.
NO_ROUTE = re.compile(rf"error: OSError: \[Errno ({errno.ENETUNREACH}|{errno.EHOSTUNREACH})\] ")


WORKSPACE_QUOTA_MB = 64  # each owner's shared folders (workspace, package caches): the smallest allowed


def contract_policy() -> str:
    """POLICY plus a home quota and allowlisted networks: the registries (so npx/uvx work) and ALLOWED_ADDRESS.

    A function, not a constant: finding the registries' addresses runs `npm` and `getent`."""
    return policy_toml(
        extra=allow_networks_toml([f"{ALLOWED_ADDRESS}/32"])
        + f"[limits]\nprocesses = {PROCESSES}\nmemory_mb = {MEMORY_MB}\nfile_size_mb = {FILE_SIZE_MB}\n"
        + f"home_quota_mb = {HOME_QUOTA_MB}\nworkspace_quota_mb = {WORKSPACE_QUOTA_MB}\n"
    )


@pytest.fixture
def daemon_tokens() -> list[str]:
    """A test that makes its server `spawn_daemon` appends the token the tool returns."""
    return []


@pytest.fixture(autouse=True)
async def nothing_left_running(daemon_tokens: list[str]) -> AsyncIterator[None]:
    """Runs around the harness: once the app is closed, none of our processes may remain (zombies aside)."""
    assert live_descendants() == [], "a previous test left a process running"
    yield
    assert live_descendants() == [], "a server process survived the app"
    # A daemon is looked for anywhere on the host (one that escaped was re-parented away from us), but only this
    # test's daemons, by the token on their command line, and with a bounded wait. Two races made the old check
    # (every `escape_server.py --daemon` on the host, looked at once) flaky on a busy machine:
    # - another test run on the same host (a second checkout, a colleague's `make test`) was half-way through
    #   its daemon test: its daemon failed our teardown. Running the daemon test in a loop next to this file
    #   failed 3 of 7 teardowns.
    # - a daemon dies when its PID namespace's init (the inner bwrap) dies. When a server is stopped by signal
    #   rather than on end of input (a loaded machine misses the 2 s grace), the inner bwrap is killed by
    #   --die-with-parent as the outer one exits, so the daemon's death is not ordered before close() returns;
    #   the cgroup sweep that would wait for it gives up after 3 s. A killed daemon is gone within the wait;
    #   one that escaped never dies, so the check still fails for it.
    await wait_until(
        lambda: not any(live_processes(f"--daemon {token}") for token in daemon_tokens),
        timeout=DAEMON_DEATH_SECONDS,
        what="every daemon this test spawned to be gone (else a daemon escaped)",
    )


@asynccontextmanager
async def running_app(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, policy: str, **overrides: object
) -> AsyncIterator[Harness]:
    for name, value in APP_SECRETS.items():
        monkeypatch.setenv(name, value)  # in the app's own environment, as in production
    async with Harness.running(data_dir, policy=policy, **overrides) as running:
        yield running


@pytest.fixture
async def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    async with running_app(tmp_path / "data", monkeypatch, POLICY) as running:
        yield running


@pytest.fixture
async def contract_harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    async with running_app(tmp_path / "data", monkeypatch, contract_policy()) as running:
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

    assert set(env) <= SANDBOX_ENV | set(admin_environment(os.environ)) | {"GREETING", "STOLEN"}, sorted(env)
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


async def test_a_setsid_daemon_left_behind_is_gone_as_soon_as_its_server_stops(
    harness: Harness, daemon_tokens: list[str]
) -> None:
    alice = await alice_with_escape_server(harness)
    await allow_with_confirmation(alice, "escape", "spawn_daemon")
    home = await server_home(harness, ALICE, "escape")

    token = result_text(await call(alice, "escape", "spawn_daemon"))
    daemon_tokens.append(token)
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
    if "`escape__allocate` failed" in answer:
        # The killed copy's "ready" lingers until its end of the pipe closes: wait for the restart to begin.
        await wait_until(
            lambda: harness.app.sessions.status(escape_id).state != "ready", timeout=20, what="the hog's restart"
        )
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


@pytest.mark.parametrize("no_network", [{"network": "none"}, {"offline": True}], ids=["network-none", "legacy-offline"])
async def test_a_server_without_network_says_so_and_has_no_route_out_while_a_default_one_reaches_allowed_networks(
    contract_harness: Harness, no_network: dict[str, object]
) -> None:
    alice = contract_harness.user()
    async with running_canary() as canary:
        await add_ready_server(alice, "online", ESCAPE)
        await alice.command(f"add-json offline {json.dumps({**ESCAPE, **no_network})}")
        confirmation = await alice.reply()
        assert "network *off*" in text_of(confirmation), text_of(confirmation)
        await alice.click(confirmation, "change_confirm")
        assert "`offline`: ready" in text_of(await alice.reply(lambda m: "*Done*" in text_of(m)))

        target = {"host": "127.0.0.1", "port": canary.port}
        blocked = result_text(await call(alice, "offline", "connect", target))
        assert blocked.startswith("error:"), blocked
        assert canary.untouched
        no_route = result_text(await call(alice, "offline", "route_lookup", {"address": ALLOWED_ADDRESS}))
        assert NO_ROUTE.match(no_route), no_route
        assert result_text(await call(alice, "online", "route_lookup", {"address": ALLOWED_ADDRESS})) == "route"


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
    report = text_of(await alice.reply(needs_attention))

    assert "leads outside the server's private home" in report, report
    assert list(victim.iterdir()) == []  # nothing was created through the link on the host


# -- the sandbox contract: one probe server (Alice's) tries each way out; Bob's tiny server answers throughout ----


async def alice_and_bob(harness: Harness, entry: dict[str, Any] = ESCAPE) -> tuple[SlackUser, SlackUser]:
    """Bob's tiny server, then Alice's probe server `escape`, both added and confirmed through Slack."""
    bob = harness.user(BOB_ID)
    await add_ready_server(bob, "tiny", TINY)
    alice = harness.user()
    await add_ready_server(alice, "escape", entry)
    return alice, bob


async def probe(alice: SlackUser, tool: str, arguments: dict[str, object] | None = None) -> str:
    return result_text(await call(alice, "escape", tool, arguments))


async def bob_still_answers(bob: SlackUser) -> None:
    assert "42" in await call(bob, "tiny", "add", {"a": 40, "b": 2})


def server_pid(script: str) -> int:
    """Host pid of the one process running tests/servers/<script> itself (not the wrappers that start it)."""
    argv = [PYTHON, server_path(script)]
    found = [
        pid
        for pid in descendant_pids(server_path(script))
        if (entry := process(pid)) is not None and list(entry.argv[:2]) == argv
    ]
    assert len(found) == 1, (script, found)
    return found[0]


def host_uids(pid: int) -> set[int]:
    """The real, effective, saved and file-system uids of a process, as the host sees them."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return {int(uid) for uid in line.split()[1:]}
    raise AssertionError(f"no Uid line for {pid}")


def network_namespace(pid: int | str) -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


def proc_net_tcp_lines() -> list[str]:
    with open("/proc/net/tcp") as handle:
        return handle.read().splitlines()


def mounts_under(folder: Path) -> list[str]:
    """Mount points at or below `folder` in this mount namespace (deepest first)."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
        if Path(point).is_relative_to(folder):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def host_footprint(folder: Path) -> tuple[int, int]:
    """(largest file's size, bytes allocated in total) under `folder` on the host's own disk: mounted
    file systems (a home image mounted there) are not descended into, their image file is what counts."""
    largest = total = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not os.path.ismount(os.path.join(root, d))]
        for name in files:
            info = os.lstat(os.path.join(root, name))
            largest = max(largest, info.st_size)
            total += info.st_blocks * 512
    return largest, total


@asynccontextmanager
async def serving_over_http(harness: Harness) -> AsyncIterator[int]:
    """Plugboard's own web app on a real loopback port, served as `python -m app` serves it; yields the port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port: int = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(harness.app.asgi, lifespan="off", log_level="warning"))
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.serve, [listener])
            await wait_until(lambda: server.started, timeout=10, what="Plugboard's HTTP port to listen")
            try:
                yield port
            finally:
                server.should_exit = True
    finally:
        listener.close()


async def test_a_server_cannot_open_kernel_settings_for_writing_nor_read_kernel_memory_keys_or_timers(
    contract_harness: Harness,
) -> None:
    alice, bob = await alice_and_bob(contract_harness)
    await allow_with_confirmation(alice, "escape", "open_for_write")  # its name is on the risky-tool list

    for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches", "/proc/sysrq-trigger"):
        answer = await probe(alice, "open_for_write", {"path": path})
        assert answer.startswith("error:"), (path, answer)
    for path in ("/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/latency_stats"):
        answer = await probe(alice, "read_file", {"path": path})
        assert answer == "" or answer.startswith("error:"), (path, answer)  # masked, or not there at all
    await bob_still_answers(bob)


async def test_a_server_cannot_create_a_user_namespace_to_give_itself_capabilities(
    contract_harness: Harness,
) -> None:
    alice, bob = await alice_and_bob(contract_harness)

    answer = await probe(alice, "make_user_namespace")

    assert answer.startswith("error:") and "[Errno" in answer, answer  # EPERM from the filter, or ENOSPC
    await bob_still_answers(bob)


async def test_a_server_runs_with_no_new_privileges_under_a_seccomp_filter(contract_harness: Harness) -> None:
    alice, bob = await alice_and_bob(contract_harness)

    status = await probe(alice, "seccomp_status")

    fields = dict((name.strip(), value.strip()) for name, value in (line.split(":", 1) for line in status.splitlines()))
    assert fields.get("Seccomp") == "2", status  # 2: a filter is installed
    assert fields.get("NoNewPrivs") == "1", status
    await bob_still_answers(bob)


async def test_each_owners_server_runs_as_its_own_unprivileged_host_uid_which_owns_its_home(
    contract_harness: Harness,
) -> None:
    await alice_and_bob(contract_harness)
    local = contract_harness.app.policy.local_servers  # the test policy gives each app a range of its own
    assert local.uid_base >= UID_BASE  # never below the defaults' range, where system and human accounts live

    uids = {}
    for owner, name, script in ((ALICE, "escape", "escape_server"), (BOB, "tiny", "tiny_server")):
        found = host_uids(server_pid(script))
        assert len(found) == 1, (name, found)  # real, effective, saved and file-system uid alike
        uid = found.pop()
        assert uid != 0 and local.uid_base <= uid < local.uid_base + local.uid_count, (name, uid)
        home = await server_home(contract_harness, owner, name)
        assert home.stat().st_uid == uid, (name, home.stat().st_uid, uid)
        uids[name] = uid
    assert uids["escape"] != uids["tiny"], uids


@pytest.fixture(params=["/opt", "/usr/local"], ids=["under-opt", "under-usr-local"])
def system_folder(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A fresh folder under a system folder the sandbox shows read-only, world-readable; removed afterwards."""
    parent = Path(request.param)
    if any(parent.is_relative_to(path) for path in visible_test_paths()):
        pytest.skip(f"{parent} is inside a folder the test policy must show (the interpreter's)")
    folder = Path(tempfile.mkdtemp(prefix="plugboard-test-", dir=parent))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        left_mounted = mounts_under(folder)
        for point in left_mounted:  # clean up after the failure reported below
            subprocess.run(["umount", "--lazy", point], check=False, capture_output=True)
        shutil.rmtree(folder)
    assert not left_mounted, f"still mounted after the app closed: {left_mounted}"


async def test_the_apps_own_files_are_hidden_from_servers_even_in_a_folder_the_sandbox_shows(
    system_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, work = system_folder / "data", system_folder / "work"
    for folder in (data, work):
        folder.mkdir()
        folder.chmod(0o755)  # only the sandbox's masks stand between a server and these files
    dotenv = work / ".env"
    dotenv.write_text(f"SLACK_BOT_TOKEN={DOTENV_SECRET}\n")
    admin_servers = system_folder / "admin-servers.json"
    admin_servers.write_text(json.dumps({"mcpServers": {"shared": TINY}}))
    for file in (dotenv, admin_servers):
        file.chmod(0o644)
    monkeypatch.chdir(work)  # the app's working folder, where it would read .env

    async with running_app(data, monkeypatch, contract_policy(), plugboard_admin_servers_file=admin_servers) as harness:
        policy_file = data.parent / f"{data.name}-policy.toml"
        protected = [data / "encryption.key", data / "plugboard.sqlite3", dotenv, policy_file, admin_servers]
        assert all(path.read_bytes() for path in protected)  # the app itself has and reads them
        alice, bob = await alice_and_bob(harness)

        for path in protected:
            answer = await probe(alice, "read_file", {"path": str(path)})
            assert answer == "" or answer.startswith("error:"), (path, answer)
            assert DOTENV_SECRET not in answer
        for folder in (data, work):
            listing = await probe(alice, "list_dir", {"path": str(folder)})
            assert listing == "[]" or listing.startswith("error:"), (folder, listing)
        await bob_still_answers(bob)


@pytest.mark.parametrize("shown", ["data-folder", "its-parent", "working-folder"])
async def test_a_policy_that_would_show_the_apps_own_files_to_servers_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shown: str
) -> None:
    data, work = tmp_path / "data", tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    entry = {"data-folder": data, "its-parent": tmp_path, "working-folder": work}[shown]
    paths = [*visible_test_paths(), str(entry)]
    policy = f'[local_servers]\nmode = "sandboxed"\nread_only_paths = {json.dumps(paths)}\n'

    with pytest.raises(PolicyError) as refused:
        async with Harness.running(data, policy=policy):
            pass

    assert "read_only_paths" in str(refused.value), refused.value
    assert str(entry) in str(refused.value), refused.value


async def test_a_server_cannot_reach_services_on_the_hosts_loopback_by_either_name(contract_harness: Harness) -> None:
    alice, bob = await alice_and_bob(contract_harness)
    # Checked before anything is sent to 10.0.2.2: on the host's own network that is a private address.
    assert network_namespace(server_pid("escape_server")) != network_namespace("self")

    async with running_canary() as canary, serving_over_http(contract_harness) as plugboard_port:
        async with httpx2.AsyncClient() as client:  # the host itself reaches Plugboard's port
            assert (await client.get(f"http://127.0.0.1:{plugboard_port}/healthz")).status_code == 200
        for port in (canary.port, plugboard_port):
            for host in ("127.0.0.1", SLIRP_GATEWAY):
                answer = await probe(alice, "connect", {"host": host, "port": port})
                assert answer.startswith("error:"), (host, port, answer)
        assert canary.untouched
    await bob_still_answers(bob)


async def test_a_server_has_no_route_to_private_link_local_or_host_addresses_only_to_allowlisted_networks(
    contract_harness: Harness,
) -> None:
    alice, bob = await alice_and_bob(contract_harness)
    own_addresses = host_ipv4_addresses()
    assert own_addresses, "`ip -4 -o addr` found no address of this host"

    for address in (*BLOCKED_ADDRESSES, *own_addresses):
        answer = await probe(alice, "route_lookup", {"address": address})
        assert NO_ROUTE.match(answer), (address, answer)
    allowed = [ALLOWED_ADDRESS, *(network.split("/")[0] for network in registry_networks())]
    for address in allowed:
        assert await probe(alice, "route_lookup", {"address": address}) == "route", address
    await bob_still_answers(bob)


async def test_a_server_cannot_connect_to_the_hosts_abstract_unix_sockets(contract_harness: Harness) -> None:
    alice, bob = await alice_and_bob(contract_harness)
    name = f"plugboard-canary-{secrets.token_hex(8)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind("\0" + name)
        listener.listen()
        listener.setblocking(False)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as own:
            own.connect("\0" + name)  # the host itself reaches it
        listener.accept()[0].close()

        answer = await probe(alice, "connect_abstract", {"name": name})

        assert answer.startswith("error:"), answer
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing arrived
    await bob_still_answers(bob)


async def test_a_server_sees_only_its_own_network_namespaces_tcp_sockets(contract_harness: Harness) -> None:
    alice, bob = await alice_and_bob(contract_harness)
    listeners = []
    try:
        for _ in range(3):  # so the host surely has sockets to leak
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listeners.append(listener)
            listener.bind(("127.0.0.1", 0))
            listener.listen()
        host_lines = proc_net_tcp_lines()

        count = int(await probe(alice, "proc_net_tcp"))
        inside = await probe(alice, "read_file", {"path": "/proc/net/tcp"})

        assert count < len(host_lines), (count, len(host_lines))
        for listener in listeners:
            assert f"0100007F:{listener.getsockname()[1]:04X}" not in inside, inside
    finally:
        for listener in listeners:
            listener.close()
    await bob_still_answers(bob)


async def test_filling_the_home_stops_at_its_quota_and_leaves_the_host_disk_alone(contract_harness: Harness) -> None:
    alice, bob = await alice_and_bob(contract_harness)

    reply = await call(alice, "escape", "fill_home", {"mb": 4 * HOME_QUOTA_MB})
    answer = result_text(reply)

    assert "private home is full" in reply and "home_quota_mb" in reply, reply  # the owner is told, outside
    stopped = re.fullmatch(r"stopped after (\d+) MiB: OSError: \[Errno 28\] No space left on device", answer)
    assert stopped, answer
    assert int(stopped.group(1)) < HOME_QUOTA_MB, answer
    largest, total = host_footprint(contract_harness.data_dir)
    assert largest <= WORKSPACE_QUOTA_MB * MIB, largest  # an image, at most its quota (sparse: mostly unwritten)
    # Two homes, two owners' shared folders (little written), the database and a little more.
    assert total <= (2 * HOME_QUOTA_MB + 2 * 8 + 4) * MIB, total
    assert (await probe(alice, "whoami")).startswith("{")  # the server itself survives its full disk
    await bob_still_answers(bob)


async def test_removing_a_server_deletes_its_home_on_the_host(contract_harness: Harness) -> None:
    alice, bob = await alice_and_bob(contract_harness)
    assert await probe(alice, "fill_home", {"mb": 1}) == "wrote 1 MiB"
    home = await server_home(contract_harness, ALICE, "escape")
    folder = home.parent  # data_dir/users/<owner>/servers/<server id>
    assert (home / "fill.bin").is_file()

    await alice.command("remove escape")
    await alice.click(await alice.reply(), "remove_confirm")
    assert "Removed `escape`" in text_of(await alice.reply())

    await wait_until(lambda: not folder.exists(), timeout=10, what="the removed server's folder to be deleted")
    assert mounts_under(folder) == []
    await bob_still_answers(bob)
