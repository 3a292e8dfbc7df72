"""No server process at boot; a server starts on its first use, and its tools are listed from the catalog meanwhile.

The real app (bootstrap.build) on a data dir a first app filled, signed Slack payloads, sandboxed tiny servers;
"no process" is read from /proc.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.domain.owner import Owner
from tests.servers import PYTHON, server_path
from tests.support import slack_payloads as payloads
from tests.support.fake_slack import FakeSlack
from tests.support.flows import add_ready_server, call
from tests.support.harness import Harness, text_of
from tests.support.processes import (
    descendant_pids,
    every_child_reaped,  # noqa: F401  (autouse fixture)
)

pytestmark = pytest.mark.anyio

OWNER = Owner(team_id=payloads.TEAM_ID, user_id=payloads.USER_ID)
TINY = server_path("tiny_server")


def tiny(marker: str, tools: str = "echo,add") -> dict[str, object]:
    return {"command": PYTHON, "args": [TINY, "--tools", tools, "--name", marker]}


def admin_file(tmp_path: Path) -> Path:
    path = tmp_path / "admin-servers.json"
    path.write_text(json.dumps({"mcpServers": {"shared": tiny("lazy-admin", "shout")}}))
    return path


async def test_no_server_runs_after_boot_the_catalog_lists_its_tools_and_the_first_call_starts_it(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    async with FakeSlack() as slack:
        async with Harness.app_on(data, slack) as first:
            await add_ready_server(first.user(), "keeper", tiny("lazy-keeper"))
            await add_ready_server(first.user(), "other", tiny("lazy-other", "echo"))

        async with Harness.app_on(data, slack) as second:
            assert await second.app.restore() == 2
            assert descendant_pids("lazy-") == [], "a server started at boot"
            alice = second.user()

            await alice.command("list")
            listing = text_of(await alice.reply())
            assert "*keeper* — idle — 2 tools, starts on first use" in listing, listing
            assert "*other* — idle — 1 tool, starts on first use" in listing, listing
            await alice.command("tools")
            tools = text_of(await alice.reply())
            assert "`keeper__echo`" in tools and "`keeper__add`" in tools and "`other__echo`" in tools, tools
            catalog = await second.app.tools.catalog(OWNER)
            assert [t.exposed_name for t in catalog] == ["keeper__echo", "keeper__add", "other__echo"]
            assert descendant_pids("lazy-") == [], "listing tools started a server"
            await alice.command("deny other__echo")  # decided on the catalog's definition, nothing started
            assert "is denied" in text_of(await alice.reply())
            assert [t.exposed_name for t in await second.app.tools.catalog(OWNER)] == ["keeper__echo", "keeper__add"]
            assert descendant_pids("lazy-") == []

            assert "42" in await call(alice, "keeper", "add", {"a": 40, "b": 2})
            assert len(descendant_pids("lazy-keeper")) >= 1 and descendant_pids("lazy-other") == []
            await alice.command("list")
            listing = text_of(await alice.reply())
            assert "*keeper* — ready — 2 tools" in listing and "*other* — idle" in listing, listing
            assert "is denied" in await call(alice, "other", "echo", {"message": "no"})  # the pin still matches
        assert slack.problems == []


async def test_a_server_that_never_listed_its_tools_starts_for_the_tool_list_in_load_order(tmp_path: Path) -> None:
    async with Harness.running(tmp_path / "data", plugboard_admin_servers_file=admin_file(tmp_path)) as harness:
        alice = harness.user()
        await add_ready_server(alice, "zeta", tiny("lazy-zeta", "echo"))
        assert descendant_pids("lazy-admin") == [], "the admin server started before anyone used it"
        await alice.command("list")
        assert "`shared` (idle — starts on first use)" in text_of(await alice.reply())

        catalog = await harness.app.tools.catalog(OWNER)

        # The owner's own servers first, then the admin's, whatever the names' alphabetical order.
        assert [t.exposed_name for t in catalog] == ["zeta__echo", "shared__shout"]
        assert descendant_pids("lazy-admin"), "the admin server never listed its tools, so the tool list starts it"


async def test_reload_of_an_idle_server_starts_it_and_reports_it_ready(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with FakeSlack() as slack:
        async with Harness.app_on(data, slack) as first:
            await add_ready_server(first.user(), "keeper", tiny("lazy-keeper"))
        async with Harness.app_on(data, slack) as second:
            alice = second.user()
            assert descendant_pids("lazy-keeper") == []
            await alice.command("reload keeper")
            report = text_of(await alice.reply(lambda m: "Reloaded" in text_of(m), timeout=30))
            assert "`keeper`: ready — 2 tools" in report, report
            assert descendant_pids("lazy-keeper")


async def test_app_home_shows_an_idle_server_and_its_tools_that_need_the_owner_without_starting_it(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    risky = {"command": PYTHON, "args": [server_path("risky_server")]}
    async with FakeSlack() as slack:
        async with Harness.app_on(data, slack) as first:
            await add_ready_server(first.user(), "risky", risky)
        async with Harness.app_on(data, slack) as second:
            mark = slack.mark()
            body = payloads.event_callback(payloads.app_home_opened(payloads.USER_ID), team_id=payloads.TEAM_ID)
            assert (await second.post(body, content_type="application/json")).status_code == 200
            published = await slack.wait_for("views.publish", after=mark)

            assert published.ok, published.response
            home = text_of(slack.homes[payloads.USER_ID])
            assert "*risky* — idle — 10 tools, starts on first use" in home, home
            assert "`risky__run_shell`" in home, "a denied tool stored in the catalog is not shown"
            assert descendant_pids("risky_server") == [], "App Home started the server"
