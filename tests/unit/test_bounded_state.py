"""Per-owner state lives only while it is needed: memory follows what is happening, not how many owners exist."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import mcp_types as types
import pytest

from app.domain.owner import Owner
from app.runtime.tool_registry import ToolRegistry
from app.services.owner_locks import OwnerLocks
from app.store.config_mirror import ConfigMirror

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id="T1", user_id="U1")


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


async def test_an_owner_lock_serialises_that_owner_and_is_gone_once_nobody_holds_or_waits_for_it() -> None:
    locks = OwnerLocks()
    order: list[str] = []

    async def step(name: str) -> None:
        async with locks(ALICE):
            order.append(f"{name} in")
            await asyncio.sleep(0)
            order.append(f"{name} out")

    await asyncio.gather(step("a"), step("b"))

    assert order == ["a in", "a out", "b in", "b out"]
    assert len(locks) == 0


async def test_many_owners_leave_no_lock_behind() -> None:
    locks = OwnerLocks()
    for n in range(1000):
        async with locks(Owner(team_id="T1", user_id=f"U{n}")):
            pass
    assert len(locks) == 0


def test_the_registry_keeps_nothing_for_an_owner_whose_last_server_stopped() -> None:
    registry = ToolRegistry()
    tool = types.Tool(name="echo", input_schema={"type": "object"})
    registry.publish(ALICE, "s1", "one", [tool])
    registry.publish(ALICE, "s2", "two", [])
    assert registry.has(ALICE, "s2")  # an empty listing is still a live listing

    registry.withdraw(ALICE, "s1")
    registry.withdraw(ALICE, "s2")

    assert not registry.has(ALICE, "s1") and registry.for_owner(ALICE, include_disabled=True) == []
    assert registry.owners_with_tools() == 0


def test_the_mirror_forgets_its_own_writes_after_a_while_but_not_before_the_watcher_could_see_them(
    tmp_path: Path,
) -> None:
    clock = Clock()
    mirror = ConfigMirror(tmp_path, clock=clock)
    owners = [Owner(team_id="T1", user_id=f"U{n}") for n in range(50)]
    for owner in owners:
        mirror.write(owner, [])
    assert mirror.remembered_files() == 50
    clock.now += 60
    assert mirror.is_own_write(mirror.local_path(owners[0]), mirror.local_path(owners[0]).read_bytes())

    clock.now += 600
    mirror.write(ALICE, [])

    assert mirror.remembered_files() == 1
    assert not mirror.is_own_write(mirror.local_path(owners[0]), mirror.local_path(owners[0]).read_bytes())
