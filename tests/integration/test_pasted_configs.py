"""Snippets as READMEs give them, pasted into `/mcp add-json`: the sandbox fetches and runs published packages.

`uvx mcp-server-time` and `npx -y @modelcontextprotocol/server-memory` are downloaded inside the sandbox,
through its own network (slirp4netns, public addresses only, plus the registries' networks this machine's
policy allows), with the host's certificate settings passed on, as a new user's pasted config would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.flows import add_ready_server, add_server, call, result_text
from tests.support.harness import Harness, policy_toml, text_of
from tests.support.network_facts import allow_networks_toml

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# The filesystem server's README snippet, with a folder of the author's laptop.
FILESYSTEM_FROM_README = {
    "command": "npx",
    "args": ["-y", "@modelcontextprotocol/server-filesystem@2026.8.31", "/Users/alice/Desktop"],
}
# A first start downloads the package and its dependencies: tens of MB.
FIRST_START_SECONDS = 180.0


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    policy = policy_toml(extra=allow_networks_toml())
    async with Harness.running(
        tmp_path / "data", policy=policy, plugboard_connect_timeout=FIRST_START_SECONDS
    ) as running:
        yield running


async def test_a_pasted_uvx_server_downloads_inside_the_sandbox_and_answers(harness: Harness) -> None:
    alice = harness.user()
    snippet = {"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time==2026.10.19"]}}}

    await add_ready_server(alice, "time", snippet["mcpServers"]["time"], timeout=FIRST_START_SECONDS)

    answer = result_text(await call(alice, "time", "get_current_time", {"timezone": "UTC"}))
    assert json.loads(answer)["timezone"] == "UTC", answer


async def test_a_pasted_npx_server_downloads_inside_the_sandbox_and_answers(harness: Harness) -> None:
    alice = harness.user()
    entry = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory@2026.8.31"]}

    await add_ready_server(alice, "memory", entry, timeout=FIRST_START_SECONDS)

    answer = result_text(await call(alice, "memory", "read_graph"))
    assert json.loads(answer) == {"entities": [], "relations": []}, answer


async def test_a_server_run_from_its_own_venv_with_python_m_answers(harness: Harness) -> None:
    alice = harness.user()
    entry = {"command": str(Path(sys.prefix) / "bin" / "python"), "args": ["-m", "mcp_server_time"]}

    await add_ready_server(alice, "mytime", entry)

    answer = result_text(await call(alice, "mytime", "get_current_time", {"timezone": "UTC"}))
    assert json.loads(answer)["timezone"] == "UTC", answer


VENV = Path(sys.prefix).resolve()
VENV_PYTHON = Path(sys.prefix) / "bin" / "python"


async def test_a_venv_whose_python_installation_is_hidden_is_refused_naming_the_folder_to_add(tmp_path: Path) -> None:
    venv_only = f'[local_servers]\nread_only_paths = ["{VENV}"]\nuid_base = 5000000\n'
    python = VENV_PYTHON
    interpreter = Path(os.path.realpath(python))  # noqa: ASYNC240  # a link, read once
    async with Harness.running(tmp_path / "data", policy=venv_only) as running:
        alice = running.user()
        entry = {"command": str(python), "args": ["-m", "mcp_server_time"]}
        await alice.command(f"add-json mytime {json.dumps(entry)}")
        card = text_of(await alice.reply())  # said before anything runs
        report = await add_server(alice, "mytime2", entry)

    assert f"`{interpreter}`" in card and "is not visible inside the sandbox" in card, card

    assert f"`{interpreter}`" in report and "is not visible inside the sandbox" in report, report
    assert f"add `{interpreter.parent}`" in report and "read_only_paths" in report, report


def shared_folder(harness: Harness, owner_id: str) -> Path:
    """The owner's shared file system on the host (workspace + package caches), mounted while a server runs."""
    return harness.data_dir / "users" / owner_id / "shared"


async def test_an_npx_server_given_the_workspace_folder_sees_what_is_in_it(harness: Harness) -> None:
    alice = harness.user()
    entry = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem@2026.8.31", "/workspace"]}
    await add_ready_server(alice, "files", entry, timeout=FIRST_START_SECONDS)
    workspace = shared_folder(harness, f"{alice.team_id}-{alice.user_id}") / "workspace"
    (workspace / "notes.txt").write_text("from the owner's workspace")

    listing = result_text(await call(alice, "files", "list_directory", {"path": "/workspace"}))
    content = result_text(await call(alice, "files", "read_text_file", {"path": "/workspace/notes.txt"}))

    assert "notes.txt" in listing, listing
    assert content == "from the owner's workspace", content


async def test_a_second_npx_server_of_the_same_owner_starts_from_the_owners_cache(harness: Harness) -> None:
    alice = harness.user()
    entry = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory@2026.8.31"]}
    await add_ready_server(alice, "memory", entry, timeout=FIRST_START_SECONDS)
    npx = shared_folder(harness, f"{alice.team_id}-{alice.user_id}") / "cache" / "npm" / "_npx"
    installed = sorted(p.name for p in npx.iterdir())
    assert len(installed) == 1, installed  # what npx fetched went to the owner's cache, not the server's home

    await add_ready_server(alice, "memory2", entry)

    assert sorted(p.name for p in npx.iterdir()) == installed  # the second server used the same install
    answer = result_text(await call(alice, "memory2", "read_graph"))
    assert json.loads(answer)["entities"] == [], answer


async def test_the_review_flags_a_folder_argument_the_sandbox_does_not_show_and_names_the_workspace(
    harness: Harness,
) -> None:
    alice = harness.user()
    entry = FILESYSTEM_FROM_README

    await alice.command(f"add-json files {json.dumps(entry)}")
    card = text_of(await alice.reply())

    assert "`/Users/alice/Desktop` does not exist inside the sandbox" in card, card
    assert "use `/workspace` instead" in card, card
    assert "`-y` does not exist" not in card and "server-filesystem@2026.8.31` does not exist" not in card, card


async def test_one_click_points_the_hidden_folder_at_the_workspace_and_the_server_then_lists_it(
    harness: Harness,
) -> None:
    alice = harness.user()
    entry = FILESYSTEM_FROM_README
    await alice.command(f"add-json files {json.dumps(entry)}")
    card = await alice.reply()

    await alice.click(card, "change_use_workspace")
    again = await alice.reply()

    shown = text_of(again)
    assert "server-filesystem@2026.8.31 /workspace" in shown, shown
    assert "does not exist inside the sandbox" not in shown and "change_use_workspace" not in json.dumps(again)
    await alice.click(again, "change_confirm")
    report = text_of(await alice.reply(lambda m: "`files`: ready" in text_of(m), timeout=FIRST_START_SECONDS))
    assert "`files`: ready" in report, report
    allowed = result_text(await call(alice, "files", "list_allowed_directories"))
    assert "/workspace" in allowed, allowed


async def test_a_start_killed_while_installing_leaves_no_lock_that_stalls_the_next_one(tmp_path: Path) -> None:
    # npm waits for a lock folder younger than 60 s; a first start may take 30 s here, so a left lock would fail it.
    policy = policy_toml(extra=allow_networks_toml() + "[limits]\nfirst_start_timeout_seconds = 30\n")
    entry = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-sequential-thinking@2026.8.31"]}
    async with Harness.running(tmp_path / "data", policy=policy, plugboard_connect_timeout=10) as harness:
        alice = harness.user()
        await add_ready_server(alice, "think", entry, timeout=60)
        owner_dir = harness.data_dir / "users" / f"{alice.team_id}-{alice.user_id}"
        await alice.command("disable think")
        assert "is disabled" in text_of(await alice.reply())
        with mounted(owner_dir / "shared.img", tmp_path / "look") as shared:
            (install,) = (shared / "cache" / "npm" / "_npx").iterdir()
            (install / "concurrency.lock").mkdir()  # what npx holds while it installs, left by a killed start

        await alice.command("enable think")
        report = text_of(await alice.reply(lambda m: "`think`: starting" not in text_of(m), timeout=60))

        assert "`think`: ready" in report, report


@contextmanager
def mounted(image: Path, point: Path) -> Iterator[Path]:
    """The owner's shared file system, looked into from the host while none of their servers runs."""
    point.mkdir()
    subprocess.run(["mount", "-o", "loop,nosuid,nodev", str(image), str(point)], check=True, timeout=30)
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True, timeout=30)
