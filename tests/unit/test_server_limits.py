"""ServerService keeps an owner under `servers_per_owner` when it confirms, on fakes of its store and runtime seams:
the count comes from inside the transaction that stores the server, so confirmations at the same moment, or a
pasted map bigger than the room left, cannot pass it."""

from __future__ import annotations

import asyncio

import pytest

from app.domain.errors import InvalidConfig, PlugboardError, ServerLimitReached
from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.domain.server import ServerRecord
from tests.unit.fakes import ServerWorld

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id="T0TEST", user_id="U0ALICE")
BOB = Owner(team_id="T0TEST", user_id="U0BOB")
CONFIG = LocalServerConfig(command="npx", args=("-y", "@scope/server@1.2.3"))


async def test_six_confirmations_at_the_same_moment_under_a_cap_of_three_store_exactly_three() -> None:
    world = ServerWorld(limit=3)
    store, servers = world.store, world.service
    changes = [await servers.propose_add(ALICE, f"s{index}", CONFIG) for index in range(6)]

    outcomes = await asyncio.gather(*(servers.confirm(ALICE, change.id) for change in changes), return_exceptions=True)

    stored = [o for o in outcomes if isinstance(o, ServerRecord)]
    refused = [o for o in outcomes if isinstance(o, ServerLimitReached)]
    assert len(stored) == 3 and len(refused) == 3, outcomes
    assert {str(o) for o in refused} == {"You have 3 of 3 servers; remove one first (`/mcp remove <name>`)."}
    assert sorted(world.sessions.started) == sorted(r.name for r in stored)
    assert store.counted_inside_a_transaction >= 6
    assert len(store.pending) == 3, "a refused confirmation stays usable once there is room"


async def test_a_full_owner_is_told_on_the_name_field_when_proposing() -> None:
    servers = ServerWorld(limit=1).service
    await servers.confirm(ALICE, (await servers.propose_add(ALICE, "one", CONFIG)).id)

    with pytest.raises(InvalidConfig) as caught:
        await servers.propose_add(ALICE, "two", CONFIG)
    assert caught.value.problems == {"name": "You have 1 of 1 servers; remove one first (`/mcp remove <name>`)."}


async def test_a_pasted_map_bigger_than_the_room_left_is_refused_whole_and_nothing_is_kept() -> None:
    world = ServerWorld(limit=3)
    store, servers = world.store, world.service
    await servers.confirm(ALICE, (await servers.propose_add(ALICE, "first", CONFIG)).id)

    with pytest.raises(ServerLimitReached) as caught:
        await servers.propose_adds(ALICE, {f"m{index}": CONFIG for index in range(3)})
    assert str(caught.value) == (
        "This config adds 3 servers but you have room for 2 more (limit 3); remove some first (`/mcp remove <name>`)."
    )
    assert store.pending == {}


async def test_changes_confirmed_together_are_refused_together_when_their_adds_do_not_fit() -> None:
    world = ServerWorld(limit=3)
    store, servers = world.store, world.service
    together = await servers.propose_adds(ALICE, {"a": CONFIG, "b": CONFIG})
    await servers.confirm(ALICE, (await servers.propose_add(ALICE, "c", CONFIG)).id)
    await servers.confirm(ALICE, (await servers.propose_add(ALICE, "d", CONFIG)).id)

    with pytest.raises(ServerLimitReached) as caught:
        await servers.confirm_all(ALICE, [change.id for change in together])
    assert "adds 2 servers but you have room for 1 more (limit 3)" in str(caught.value)
    assert sorted(r.name for r in store.servers.values()) == ["c", "d"], "part of the confirmation was applied"
    assert sorted(store.pending) == sorted(change.id for change in together)


async def test_another_owners_confirmation_is_refused_and_left_in_place() -> None:
    world = ServerWorld(limit=3)
    store, servers = world.store, world.service
    alices = await servers.propose_add(ALICE, "mine", CONFIG)

    [outcome] = await servers.confirm_all(BOB, [alices.id])
    assert isinstance(outcome, PlugboardError) and "someone else's" in str(outcome)
    assert alices.id in store.pending
    assert (await servers.confirm(ALICE, alices.id)).name == "mine"
