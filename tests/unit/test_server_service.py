"""ServerService on fakes of its store, runtime, gate and mirror: nothing runs before its owner confirms it, and
only what the owner approved ever runs."""

from __future__ import annotations

import pytest

from app.domain.errors import ChangeExpired, InvalidConfig, NotYourServer, ServerNameTaken
from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.domain.remote_config import RemoteServerConfig
from tests.unit.fakes import ServerWorld

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id="T0TEST", user_id="U0ALICE")
MALLORY = Owner(team_id="T0TEST", user_id="U0MALLORY")
CONFIG = LocalServerConfig(command="npx", args=("-y", "@scope/server@1.2.3"))
NEWER = LocalServerConfig(command="npx", args=("-y", "@scope/server@2.0.0"))


async def test_a_proposed_server_is_neither_stored_nor_started_until_confirmed() -> None:
    world = ServerWorld()

    change = await world.service.propose_add(ALICE, "files", CONFIG)

    assert world.store.servers == {} and world.sessions.started == []
    assert list(world.store.pending) == [change.id]


async def test_confirming_stores_the_server_starts_it_audits_the_approval_and_mirrors_it() -> None:
    world = ServerWorld()
    change = await world.service.propose_add(ALICE, "files", CONFIG)

    record = await world.service.confirm(ALICE, change.id)

    assert record.approved and world.store.servers == {record.id: record}
    assert world.sessions.started == ["files"]
    assert world.store.actions() == ["approved_add"]
    assert world.store.audit[0]["detail"]["config_sha256"] == CONFIG.approval_hash()
    assert world.mirror.written[ALICE.id] == [record]


async def test_a_confirmation_can_be_used_only_once() -> None:
    world = ServerWorld()
    change = await world.service.propose_add(ALICE, "files", CONFIG)
    await world.service.confirm(ALICE, change.id)

    with pytest.raises(ChangeExpired):
        await world.service.confirm(ALICE, change.id)
    assert world.sessions.started == ["files"]


async def test_a_server_the_policy_refused_after_it_was_shown_is_not_stored_or_started() -> None:
    world = ServerWorld()
    change = await world.service.propose_add(ALICE, "files", CONFIG)
    world.gate.refused.add("npx")

    with pytest.raises(InvalidConfig):
        await world.service.confirm(ALICE, change.id)
    assert world.store.servers == {} and world.sessions.started == []


async def test_a_remote_server_at_a_refused_url_is_rejected_when_proposed() -> None:
    world = ServerWorld()
    world.gate.refused.add("http://169.254.169.254/mcp")

    with pytest.raises(InvalidConfig) as caught:
        await world.service.propose_add(ALICE, "meta", RemoteServerConfig(url="http://169.254.169.254/mcp"))
    assert list(caught.value.problems) == ["url"]
    assert world.store.pending == {}


async def test_a_name_already_in_use_is_refused() -> None:
    world = ServerWorld()
    await world.service.confirm(ALICE, (await world.service.propose_add(ALICE, "files", CONFIG)).id)

    with pytest.raises(ServerNameTaken):
        await world.service.propose_add(ALICE, "files", NEWER)


async def test_an_edit_that_changes_what_runs_waits_for_approval_then_restarts_the_server() -> None:
    world = ServerWorld()
    record = await world.service.confirm(ALICE, (await world.service.propose_add(ALICE, "files", CONFIG)).id)

    change = await world.service.propose_edit(ALICE, record.id, NEWER)

    assert change is not None
    assert world.store.servers[record.id].config == CONFIG, "the edit took effect before it was approved"
    assert world.sessions.started == ["files"]
    edited = await world.service.confirm(ALICE, change.id)
    assert edited.config == NEWER and edited.approved and edited.version == record.version + 1
    assert world.sessions.running[record.id].config == NEWER
    assert world.store.actions() == ["approved_add", "approved_edit"]


async def test_an_edit_that_changes_nothing_that_runs_needs_no_approval() -> None:
    world = ServerWorld()
    record = await world.service.confirm(ALICE, (await world.service.propose_add(ALICE, "files", CONFIG)).id)

    assert await world.service.propose_edit(ALICE, record.id, CONFIG) is None
    assert world.store.pending == {}


async def test_removing_a_server_stops_it_forgets_it_and_drops_it_from_the_mirror() -> None:
    world = ServerWorld()
    record = await world.service.confirm(ALICE, (await world.service.propose_add(ALICE, "files", CONFIG)).id)

    await world.service.remove(ALICE, record.id)

    assert world.store.servers == {}
    assert world.sessions.stopped == [record.id] and world.sessions.forgotten == [record.id]
    assert world.sessions.running == {}
    assert world.mirror.written[ALICE.id] == []
    assert world.store.actions()[-1] == "removed"


async def test_acting_on_someone_elses_server_is_refused_and_audited_in_the_owners_log() -> None:
    world = ServerWorld()
    record = await world.service.confirm(ALICE, (await world.service.propose_add(ALICE, "files", CONFIG)).id)

    with pytest.raises(NotYourServer):
        await world.service.remove(MALLORY, record.id)

    assert world.store.servers == {record.id: record} and world.sessions.stopped == []
    denied = world.store.audit[-1]
    assert denied["action"] == "denied"
    assert (denied["owner"], denied["actor"], denied["server_name"]) == (ALICE, MALLORY, "files")


async def test_restore_starts_nothing_and_rewrites_only_the_mirrors_that_differ() -> None:
    world = ServerWorld()
    approved = await world.service.confirm(ALICE, (await world.service.propose_add(ALICE, "approved", CONFIG)).id)
    off = await world.service.confirm(ALICE, (await world.service.propose_add(ALICE, "off", CONFIG)).id)
    await world.service.set_enabled(ALICE, off.id, False)
    tampered = await world.service.confirm(ALICE, (await world.service.propose_add(ALICE, "tampered", CONFIG)).id)
    world.store.servers[tampered.id] = tampered.model_copy(update={"config": NEWER})  # changed behind our back
    world.sessions.started.clear()

    world.mirror.written.clear()  # as if the files were lost while the app was down

    assert await world.service.restore() == 2  # enabled servers stored; servers start on first use, not here

    assert world.sessions.started == []
    assert [r.name for r in world.mirror.written[ALICE.id]] == sorted([approved.name, off.name, tampered.name])
    assert await world.service.sync_mirrors() == 0  # nothing differs any more
