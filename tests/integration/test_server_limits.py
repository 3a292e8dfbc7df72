"""The admin's `servers_per_owner` holds however servers arrive: one at a time, confirmed at the same moment, as a
pasted map, or in an uploaded file. Whatever does not fit is refused with the numbers, whole, never trimmed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.support.config_files import OWNER, SETTLE, decide, tiny, upload
from tests.support.flows import DONE, all_worked, finished, needs_attention
from tests.support.harness import Harness, SlackUser, policy_toml, text_of

pytestmark = pytest.mark.anyio

CAP_OF_THREE = "[limits]\nservers_per_owner = 3\n"


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[Harness]:
    async with Harness.running(tmp_path / "data", policy=policy_toml(extra=CAP_OF_THREE)) as running:
        yield running


def done(message: dict[str, Any]) -> bool:
    """The final report: `Done` when the server was added, what to do next when it was refused."""
    return finished(message)


async def stored_names(harness: Harness) -> list[str]:
    return sorted(item.record.name for item in await harness.app.servers.overview(OWNER))


async def count(harness: Harness, table: str) -> int:
    row = await harness.app.db.fetch_one(f"SELECT COUNT(*) AS n FROM {table}")
    assert row is not None
    return int(row["n"])


async def propose(user: SlackUser, name: str) -> dict[str, Any]:
    await user.command(f"add-json {name} {json.dumps(tiny(name))}")
    confirmation = await user.reply()
    assert "change_confirm" in json.dumps(confirmation), text_of(confirmation)
    return confirmation


async def confirm(harness: Harness, confirmation: dict[str, Any]) -> str:
    """Click Confirm as a fresh click of the same person (its own response_url) and return the report."""
    clicker = harness.user()
    await clicker.click(confirmation, "change_confirm")
    return text_of(await clicker.reply(done, timeout=SETTLE))


async def test_six_proposals_confirmed_at_the_same_moment_under_a_cap_of_three_store_exactly_three(
    capped: Harness,
) -> None:
    alice = capped.user()
    confirmations = {f"s{index}": await propose(alice, f"s{index}") for index in range(6)}
    assert await stored_names(capped) == [], "a proposal stored a server"

    reports: dict[str, str] = {}

    async def click(name: str) -> None:
        reports[name] = await confirm(capped, confirmations[name])

    async with anyio.create_task_group() as tasks:
        for name in confirmations:
            tasks.start_soon(click, name)

    stored = await stored_names(capped)
    assert len(stored) == 3, stored
    refused = sorted(name for name, report in reports.items() if "You have 3 of 3 servers; remove one first" in report)
    assert refused == sorted(set(confirmations) - set(stored)), reports
    for name in stored:
        assert f"`{name}`: ready" in reports[name], reports[name]
    mirrored = json.loads((capped.data_dir / "users" / OWNER.id / "mcp.json").read_text())
    assert sorted(mirrored["mcpServers"]) == stored
    assert await count(capped, "pending_changes") == 3, "a refused confirmation should stay usable"

    # The advice works: after removing one, a refused confirmation goes through.
    await alice.command(f"remove {stored[0]}")
    await alice.click(await alice.reply(), "remove_confirm")
    assert "removed" in text_of(await alice.reply()).lower()
    assert f"`{refused[0]}`: ready" in await confirm(capped, confirmations[refused[0]])
    assert sorted(await stored_names(capped)) == sorted([*stored[1:], refused[0]])


async def test_a_pasted_map_bigger_than_the_room_left_is_refused_whole_with_the_numbers(capped: Harness) -> None:
    alice = capped.user()
    await confirm(capped, await propose(alice, "first"))
    document = {"mcpServers": {f"m{index}": tiny(f"m{index}") for index in range(32)}}

    response = await alice.command(f"add-json {json.dumps(document)}")
    answer = response.json()["text"] if response.text else text_of(await alice.reply())
    assert "This config adds 32 servers but you have room for 2 more (limit 3)" in answer, answer
    assert await stored_names(capped) == ["first"]
    assert await count(capped, "pending_changes") == 0, "part of the map was kept for confirmation"


async def test_an_uploaded_file_bigger_than_the_room_left_is_refused_whole_and_nothing_is_stored(
    capped: Harness,
) -> None:
    alice = capped.user()
    await confirm(capped, await propose(alice, "first"))
    await confirm(capped, await propose(alice, "second"))
    document = {"mcpServers": {f"f{index}": tiny(f"f{index}") for index in range(32)}}

    answer = text_of(await upload(alice, "claude_desktop_config.json", document))

    assert "This file adds 32 servers but you have room for 1 more (limit 3)" in answer, answer
    assert "Nothing was changed." in answer
    assert await stored_names(capped) == ["first", "second"]
    assert await count(capped, "pending_batches") == 0


async def test_a_file_and_a_single_server_confirmed_at_the_same_moment_never_pass_the_cap_together(
    capped: Harness,
) -> None:
    alice = capped.user()
    await confirm(capped, await propose(alice, "first"))
    review = await upload(alice, "claude_desktop_config.json", {"mcpServers": {"f1": tiny("f1"), "f2": tiny("f2")}})
    assert "f1" in text_of(review) and "f2" in text_of(review), text_of(review)  # 1 + 2 fits when proposed
    single = await propose(alice, "single")  # 1 + 1 fits too

    reports: dict[str, str] = {}

    async def confirm_file() -> None:
        reports["file"] = await decide(capped.user(), review)

    async def confirm_single() -> None:
        reports["single"] = await confirm(capped, single)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(confirm_file)
        tasks.start_soon(confirm_single)

    stored = await stored_names(capped)
    if "single" in stored:  # the single server came first: the file no longer fits and is refused whole
        assert stored == ["first", "single"], stored
        assert "This file adds 2 servers but you have room for 1 more (limit 3)" in reports["file"], reports
    else:  # the file came first: the single server is refused
        assert stored == ["f1", "f2", "first"], stored
        assert "You have 3 of 3 servers; remove one first" in reports["single"], reports


async def test_a_confirmation_refused_for_lack_of_room_says_what_to_do_and_its_try_again_button_works_later(
    capped: Harness,
) -> None:
    alice = capped.user()
    await confirm(capped, await propose(alice, "first"))
    await confirm(capped, await propose(alice, "second"))
    late = await propose(alice, "late")  # 2 of 3: there is room when it is proposed
    await confirm(capped, await propose(alice, "filler"))

    await alice.click(late, "change_confirm")
    refused = await alice.reply(needs_attention, timeout=SETTLE)
    shown = text_of(refused)
    assert "You have 3 of 3 servers; remove one first" in shown, shown
    assert DONE not in shown and shown.rstrip().endswith("Once there is room, press *Try again*."), shown
    assert await stored_names(capped) == ["filler", "first", "second"]

    await alice.command("remove filler")
    await alice.click(await alice.reply(), "remove_confirm")
    assert "removed" in text_of(await alice.reply()).lower()
    await alice.click(refused, "change_confirm")
    assert "`late`: ready" in text_of(await alice.reply(all_worked, timeout=SETTLE))
    assert await stored_names(capped) == ["first", "late", "second"]
