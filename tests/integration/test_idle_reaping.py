"""Idle servers are reaped and the live caps evict the least recently used idle server; a call in flight is never cut.

The SessionManager with real tiny MCP servers (run directly, as in trusted mode) and a clock the test moves by hand,
so "idle for ten minutes" takes no time; `reap_idle()` is what the background reaper calls. The last test goes through
the whole app (signed Slack payloads, the sandbox): a reaped server shows as idle and starts again on its next call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.domain.local_config import build_local_config
from app.domain.owner import Owner
from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from app.runtime.launcher import DirectLauncher, ServerFolders
from app.runtime.server_actor import ActorTimings
from app.runtime.session_manager import SessionManager, busy_message
from app.runtime.tool_registry import ToolRegistry
from tests.servers import PYTHON, server_path
from tests.support import slack_payloads as payloads
from tests.support.flows import add_ready_server, call
from tests.support.harness import Harness, policy_toml, text_of
from tests.support.processes import (
    descendant_pids,
    every_child_reaped,  # noqa: F401  (autouse fixture)
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id="T0TEST", user_id="U0ALICE")
BOB = Owner(team_id="T0TEST", user_id="U0BOB")
OWNER_OF_HARNESS = Owner(team_id=payloads.TEAM_ID, user_id=payloads.USER_ID)  # who the harness's Slack user is
TINY = server_path("tiny_server")
SETTLE = 20.0
IDLE = 600.0


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Runtime:
    sessions: SessionManager
    clock: Clock
    statuses: list[tuple[str, ServerStatus]] = field(default_factory=list)

    async def ready(self, record: ServerRecord) -> None:
        status = await self.sessions.ensure_started(record, SETTLE)
        assert status.state == "ready", status.label()


def tiny(owner: Owner, name: str) -> ServerRecord:
    # The name is in the argv, so each server's process can be told apart in /proc.
    config = build_local_config(
        command=PYTHON, args=[TINY, "--tools", "echo,wait", "--name", f"reap-{name}"], env={}, cwd=None
    )
    return ServerRecord.approved_new(owner, name, config, enabled=True, now=0.0, record_id=f"{owner.user_id}-{name}")


def pids(record: ServerRecord) -> list[int]:
    return descendant_pids(f"reap-{record.name}")


@pytest.fixture
async def runtime(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Runtime]:
    caps = getattr(request, "param", {})
    clock = Clock()
    sessions = SessionManager(
        DirectLauncher(ServerFolders(tmp_path)),
        ToolRegistry(),
        ActorTimings(connect_timeout=SETTLE, request_timeout=SETTLE, restart_backoff=0.05),
        max_live_per_owner=caps.get("per_owner", 10),
        max_live_total=caps.get("total", 200),
        idle_seconds=IDLE,
        busy_wait_seconds=caps.get("busy_wait", 30.0),
        clock=clock,
    )
    world = Runtime(sessions, clock)
    sessions.on_status(lambda record, status: world.statuses.append((record.name, status)))
    try:
        yield world
    finally:
        await sessions.close()


async def in_flight_call(world: Runtime, record: ServerRecord, seconds: float) -> asyncio.Task[str]:
    """A call that stays in flight for `seconds`; returns once the server is answering it."""

    async def wait_call() -> str:
        result = await world.sessions.call_tool(record.id, "wait", {"seconds": seconds})
        return "".join(getattr(item, "text", "") for item in result.content)

    task = asyncio.create_task(wait_call())
    await wait_until(lambda: world.sessions.in_flight(record.id) == 1, timeout=5, what="the call to be in flight")
    return task


async def test_a_server_idle_longer_than_idle_minutes_is_stopped_and_one_answering_a_call_is_not(
    runtime: Runtime,
) -> None:
    idle, busy = tiny(ALICE, "idle"), tiny(ALICE, "busy")
    await runtime.ready(idle)
    await runtime.ready(busy)
    idle_pids = pids(idle)
    assert idle_pids and pids(busy)
    call = await in_flight_call(runtime, busy, 2.0)

    runtime.clock.advance(IDLE - 1)
    assert await runtime.sessions.reap_idle() == [], "a server was reaped before it had been idle long enough"
    runtime.clock.advance(2)
    assert await runtime.sessions.reap_idle() == [idle.id]

    assert not runtime.sessions.is_live(idle.id) and runtime.sessions.is_live(busy.id)
    await wait_until(lambda: not any(pid in descendant_pids() for pid in idle_pids), timeout=10, what="idle's exit")
    assert await asyncio.wait_for(call, 10) == "waited", "the call in flight was cut"
    assert ("idle", ServerStatus("stopped")) in runtime.statuses

    # Used just now, so not idle yet; once idle long enough it goes too.
    assert await runtime.sessions.reap_idle() == []
    runtime.clock.advance(IDLE + 1)
    assert await runtime.sessions.reap_idle() == [busy.id]
    assert runtime.sessions.live_count() == 0


@pytest.mark.parametrize("runtime", [{"total": 2}], indirect=True)
async def test_at_the_global_cap_a_start_evicts_the_least_recently_used_idle_server(runtime: Runtime) -> None:
    first, second, third = tiny(ALICE, "first"), tiny(BOB, "second"), tiny(BOB, "third")
    await runtime.ready(first)
    runtime.clock.advance(10)
    await runtime.ready(second)
    runtime.clock.advance(10)
    result = await runtime.sessions.call_tool(first.id, "echo", {"message": "still wanted"})
    assert not result.is_error  # first is now the more recently used one

    await runtime.ready(third)

    assert sorted(runtime.sessions.live_ids()) == sorted([first.id, third.id]), "evicted the wrong server"
    assert runtime.sessions.live_count() == 2
    await wait_until(lambda: pids(second) == [], timeout=10, what="the evicted server's exit")


@pytest.mark.parametrize("runtime", [{"total": 1, "busy_wait": 0.5}], indirect=True)
async def test_when_every_slot_is_busy_a_start_waits_then_says_plugboard_is_busy(runtime: Runtime) -> None:
    busy, later = tiny(ALICE, "busy"), tiny(BOB, "later")
    await runtime.ready(busy)
    call = await in_flight_call(runtime, busy, 3.0)

    status = await runtime.sessions.ensure_started(later, SETTLE)

    assert status == ServerStatus("error", busy_message(1))
    assert status.detail == "Plugboard is busy: every one of its 1 server slots is in use; try again in a minute."
    assert runtime.sessions.is_live(busy.id) and not runtime.sessions.is_live(later.id) and pids(later) == []
    assert await asyncio.wait_for(call, 10) == "waited"


@pytest.mark.parametrize("runtime", [{"total": 1, "busy_wait": 20.0}], indirect=True)
async def test_a_start_waiting_for_a_slot_gets_it_as_soon_as_the_busy_server_finishes_its_call(
    runtime: Runtime,
) -> None:
    busy, later = tiny(ALICE, "busy"), tiny(BOB, "later")
    await runtime.ready(busy)
    call = await in_flight_call(runtime, busy, 1.0)

    status = await runtime.sessions.ensure_started(later, SETTLE)

    assert status.state == "ready", status.label()
    assert call.done() and call.result() == "waited", "the busy server was stopped before its call finished"
    assert runtime.sessions.live_ids() == [later.id]


@pytest.mark.parametrize("runtime", [{"per_owner": 1}], indirect=True)
async def test_at_the_per_owner_cap_a_start_replaces_the_owners_own_least_recently_used_idle_server(
    runtime: Runtime,
) -> None:
    mine, other, mine_too = tiny(ALICE, "mine"), tiny(BOB, "other"), tiny(ALICE, "mine-too")
    await runtime.ready(mine)
    await runtime.ready(other)

    await runtime.ready(mine_too)

    assert sorted(runtime.sessions.live_ids()) == sorted([other.id, mine_too.id]), "another owner's server went"


async def test_a_reaped_server_shows_as_idle_and_its_next_call_starts_it_again(tmp_path: Path) -> None:
    # A tiny idle time (0.6 ms) makes every server without a call in flight reapable at once.
    policy = policy_toml(extra="[limits]\nidle_minutes = 0.00001\n")
    async with Harness.running(tmp_path / "data", policy=policy) as harness:
        alice = harness.user()
        entry = {"command": PYTHON, "args": [TINY, "--tools", "echo", "--name", "reap-slack"]}
        await add_ready_server(alice, "reaped", entry)
        [item] = await harness.app.servers.overview(OWNER_OF_HARNESS)

        await wait_until(lambda: descendant_pids("reap-slack"), timeout=5, what="the server process")
        assert await harness.app.sessions.reap_idle() == [item.record.id]
        await wait_until(lambda: not descendant_pids("reap-slack"), timeout=10, what="the reaped server's exit")
        await alice.command("list")
        assert "*reaped* — idle — 1 tool, starts on first use" in text_of(await alice.reply())

        assert "hello again" in await call(alice, "reaped", "echo", {"message": "hello again"})
        assert harness.app.sessions.status(item.record.id).state == "ready"
