"""The database is the truth and `data/users/<owner>/mcp.json` mirrors it: across an app restart servers come back
as their owner left them, the mirror matches the database, secrets are stored only encrypted, and concurrent
changes by one owner never lose an update.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.services.server_service import ServerOverview
from tests.servers import PYTHON, server_path
from tests.support import slack_payloads as payloads
from tests.support.fake_slack import FakeSlack
from tests.support.harness import Harness, SlackUser, text_of
from tests.support.processes import (
    descendants_of,
    every_child_reaped,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.anyio

OWNER = Owner(team_id=payloads.TEAM_ID, user_id=payloads.USER_ID)
TINY = server_path("tiny_server")
ENV_DUMP = server_path("env_dump_server")
SECRET = "sk-live-mirror-canary-8c1e55"
OTHER_SECRET = "second-mirror-canary-0b7d"
SETTLE = 30.0


# -- helpers ------------------------------------------------------------------------------------------------


def running_servers(needle: str) -> list[int]:
    """Processes under this test process whose command line mentions `needle` (sandbox wrappers included)."""
    return [pid for pid, entry in descendants_of().items() if any(needle in part for part in entry.argv)]


async def add_json(user: SlackUser, name: str, config: dict[str, Any]) -> str:
    await user.command(f"add-json {name} {json.dumps(config)}")
    confirmation = await user.reply(lambda m: "Review before running" in text_of(m))
    await user.click(confirmation, "change_confirm")
    return text_of(await user.reply(lambda m: "*Done*" in text_of(m), timeout=SETTLE))


async def ask(user: SlackUser, text: str) -> dict[str, Any]:
    await user.command(text)
    return await user.reply()


def mirror_of(data_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((data_dir / "users" / OWNER.id / "mcp.json").read_text())
    return loaded


def local(config: object) -> LocalServerConfig:
    assert isinstance(config, LocalServerConfig), config
    return config


def assert_mirror_matches_database(mirror: dict[str, Any], overview: list[ServerOverview]) -> None:
    entries = mirror["mcpServers"]
    assert set(entries) == {item.record.name for item in overview}
    for item in overview:
        record, entry = item.record, entries[item.record.name]
        config = local(record.config)
        assert entry["type"] == "stdio"
        assert entry["command"] == config.command, entry
        assert entry["args"] == list(config.args), entry
        assert sorted(entry.get("env", {})) == sorted(config.env), entry
        assert entry.get("env", {}) == {name: "${secret:" + name + "}" for name in config.env}, entry
        assert entry.get("disabled", False) is (not record.enabled), entry


def assert_list_matches_database(listing: dict[str, Any], overview: list[ServerOverview]) -> None:
    rows = {b["block_id"]: b["text"]["text"] for b in listing["blocks"] if b.get("block_id", "").startswith("server:")}
    assert len(rows) == len(overview), rows
    for item in overview:
        row = rows[f"server:{item.record.id}"]
        assert f"*{item.record.name}*" in row, row
        config = local(item.record.config)
        assert shlex.join([config.command, *config.args]) in row, row


def files_holding(data_dir: Path, needle: str) -> list[str]:
    """Every file under the data dir whose raw bytes contain `needle` (SQLite db, WAL, mirrors, homes, keys…)."""
    return sorted(
        str(path.relative_to(data_dir))
        for path in data_dir.rglob("*")
        if path.is_file() and needle.encode() in path.read_bytes()
    )


# -- tests --------------------------------------------------------------------------------------------------


async def test_after_a_restart_enabled_servers_come_back_idle_start_on_first_use_and_disabled_ones_stay_stopped(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    async with FakeSlack() as slack:
        async with Harness.app_on(data_dir, slack) as first:
            alice = first.user()
            keeper = {"command": PYTHON, "args": [TINY, "--tools", "echo,add"], "env": {"API_KEY": SECRET}}
            sleeper = {"command": PYTHON, "args": [ENV_DUMP], "env": {"OTHER": OTHER_SECRET}}
            assert "`keeper`: ready — 2 tools" in await add_json(alice, "keeper", keeper)
            assert "`sleeper`: ready — 2 tools" in await add_json(alice, "sleeper", sleeper)
            assert "disabled" in text_of(await ask(alice, "disable sleeper"))
            before = await first.app.servers.overview(OWNER)
            assert files_holding(data_dir, SECRET) == [], "a secret is stored in plain text"
        assert running_servers(TINY) == [] and running_servers(ENV_DUMP) == [], "closing the app left servers"
        assert files_holding(data_dir, SECRET) == [] and files_holding(data_dir, OTHER_SECRET) == []

        async with Harness.app_on(data_dir, slack) as second:
            assert running_servers(TINY) == [], "a server started before restore()"
            await second.app.restore()
            after = await second.app.servers.overview(OWNER)
            assert [(o.record.id, o.record.name, o.record.config, o.record.enabled) for o in after] == [
                (o.record.id, o.record.name, o.record.config, o.record.enabled) for o in before
            ]
            by_name = {o.record.name: o.record for o in after}
            assert running_servers(TINY) == [], "restore() started a server: servers start on first use"
            assert "*keeper* — idle — 2 tools, starts on first use" in text_of(await ask(second.user(), "list"))

            alice = second.user()
            tools = text_of(await ask(alice, "tools keeper"))  # from the stored catalog: still nothing runs
            assert "`keeper__echo`" in tools and "`keeper__add`" in tools, tools
            assert running_servers(TINY) == [], "listing tools started a server that had listed them before"
            assert "42" in text_of(await ask(alice, 'call keeper add {"a": 40, "b": 2}'))  # first use starts it
            assert second.app.sessions.status(by_name["keeper"].id).state == "ready"
            assert "no tools" in text_of(await ask(alice, "tools sleeper"))
            assert running_servers(ENV_DUMP) == [], "the disabled server started after the restart"
            assert second.app.sessions.status(by_name["sleeper"].id).state == "stopped"

            listing = await ask(alice, "list")
            overview = await second.app.servers.overview(OWNER)
            assert_list_matches_database(listing, overview)
            rows = text_of(listing)
            assert "*keeper* — ready — 2 tools" in rows and "*sleeper* — disabled" in rows, rows
            assert_mirror_matches_database(mirror_of(data_dir), overview)
            assert local(by_name["keeper"].config).env == {"API_KEY": SECRET}, "the stored secret did not survive"

            # The other way round too: the restarted app can disable and enable what it restored.
            await alice.command("enable sleeper")
            enabled = text_of(await alice.reply(lambda m: "*Enabled sleeper*" in text_of(m), timeout=SETTLE))
            assert "`sleeper`: ready — 2 tools" in enabled, enabled
            assert_mirror_matches_database(mirror_of(data_dir), await second.app.servers.overview(OWNER))
        assert slack.problems == [], slack.problems
    assert files_holding(data_dir, SECRET) == [] and files_holding(data_dir, OTHER_SECRET) == []
    assert not any(SECRET in json.dumps(call.params) for call in slack.calls), "a secret was sent to Slack"


async def test_secrets_appear_only_as_placeholders_in_the_mirror_and_only_encrypted_in_the_database(
    harness: Harness,
) -> None:
    alice = harness.user()
    config = {"command": PYTHON, "args": [TINY, "--tools", "echo"], "env": {"API_KEY": SECRET, "REGION": "eu-1"}}
    assert "`keeper`: ready" in await add_json(alice, "keeper", config)

    mirror = mirror_of(harness.data_dir)
    assert mirror["mcpServers"]["keeper"]["env"] == {"API_KEY": "${secret:API_KEY}", "REGION": "${secret:REGION}"}
    assert_mirror_matches_database(mirror, await harness.app.servers.overview(OWNER))
    # While the app runs (WAL and all) and after it closed: the literal secret is in no file of the data dir.
    assert files_holding(harness.data_dir, SECRET) == []

    database = harness.data_dir / "plugboard.sqlite3"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        (config_json, sealed) = conn.execute(
            "SELECT config_json, secrets_enc FROM servers WHERE name = 'keeper'"
        ).fetchone()
    assert SECRET not in config_json and "eu-1" not in config_json
    assert json.loads(config_json)["env_names"] == ["API_KEY", "REGION"]
    assert sealed.startswith("v1:") and SECRET not in sealed
    assert local((await harness.app.servers.get(OWNER, "keeper")).record.config).env["API_KEY"] == SECRET


async def test_concurrent_changes_by_one_owner_never_lose_an_update(harness: Harness) -> None:
    names = [f"s{i}" for i in range(5)]

    async def add(name: str) -> str:
        # One SlackUser per request: each has its own response_url, all are the same Slack user.
        return await add_json(harness.user(), name, {"command": PYTHON, "args": [TINY, "--tools", "echo"]})

    outcomes = await asyncio.gather(*(add(name) for name in names))
    for name, outcome in zip(names, outcomes, strict=True):
        assert f"`{name}`: ready — 1 tool" in outcome, outcome
    overview = await harness.app.servers.overview(OWNER)
    assert sorted(o.record.name for o in overview) == names
    assert_mirror_matches_database(mirror_of(harness.data_dir), overview)
    assert {t.exposed_name for t in harness.app.tools.tools(OWNER)} == {f"{n}__echo" for n in names}

    async def disable(name: str) -> str:
        return text_of(await ask(harness.user(), f"disable {name}"))

    await asyncio.gather(*(disable(name) for name in names[:3]))
    overview = await harness.app.servers.overview(OWNER)
    assert {o.record.name: o.record.enabled for o in overview} == {
        "s0": False,
        "s1": False,
        "s2": False,
        "s3": True,
        "s4": True,
    }
    assert_mirror_matches_database(mirror_of(harness.data_dir), overview)
    assert {t.exposed_name for t in harness.app.tools.tools(OWNER)} == {"s3__echo", "s4__echo"}
