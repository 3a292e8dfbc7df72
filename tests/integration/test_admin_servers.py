"""Servers the admin provides to everyone: started per owner on first use, after each owner's own servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.services.admin_servers import AdminServersError, load_admin_servers
from tests.servers import PYTHON, server_path
from tests.support.harness import Harness, policy_toml, text_of

pytestmark = pytest.mark.anyio


def _admin_file(tmp_path: Path) -> Path:
    path = tmp_path / "admin-servers.json"
    entry = {"command": PYTHON, "args": [server_path("tiny_server"), "--tools", "echo,shout"]}
    path.write_text(json.dumps({"mcpServers": {"shared": entry}}))
    return path


async def test_an_admin_server_is_started_for_an_owner_on_first_use_and_its_tools_can_be_called(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with Harness.running(data, plugboard_admin_servers_file=_admin_file(tmp_path)) as harness:
        alice = harness.user()
        await alice.command("tools")
        listing = text_of(await alice.reply())
        assert "shared__echo" in listing and "shared__shout" in listing

        await alice.command('call shared shout {"message": "hi"}')
        assert "HI" in text_of(await alice.reply())

        await alice.command("list")
        assert "Provided by your admin: `shared` (ready — 2 tools)" in text_of(await alice.reply())


async def test_an_owners_own_server_of_the_same_name_hides_the_admin_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with Harness.running(data, plugboard_admin_servers_file=_admin_file(tmp_path)) as harness:
        alice = harness.user()
        own = json.dumps({"command": PYTHON, "args": [server_path("tiny_server"), "--tools", "add"]})
        await alice.command(f"add-json shared {own}")
        await alice.click(await alice.reply(), "change_confirm")
        await alice.reply(lambda m: "ready" in text_of(m) or "error" in text_of(m))

        await alice.command("tools shared")
        listing = text_of(await alice.reply())
        assert "shared__add" in listing and "shared__shout" not in listing


async def test_a_policy_that_offers_admin_servers_to_nobody_hides_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    policy = 'admin_servers_for = "nobody"\n' + policy_toml()  # top-level keys come before the tables
    async with Harness.running(data, policy=policy, plugboard_admin_servers_file=_admin_file(tmp_path)) as harness:
        alice = harness.user()
        await alice.command("call shared echo {}")
        assert "You have no server named `shared`" in text_of(await alice.reply())


def test_a_broken_admin_servers_file_is_refused_with_its_name_and_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "admin.json"
    path.write_text('{"mcpServers": {"x": {"command": "npx", "shell": true}}}')
    with pytest.raises(AdminServersError) as refused:
        load_admin_servers(path)
    assert "admin.json" in str(refused.value) and "shell" in str(refused.value)
