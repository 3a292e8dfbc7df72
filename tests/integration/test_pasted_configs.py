"""Snippets as READMEs give them, pasted into `/mcp add-json`: the sandbox fetches and runs published packages.

`uvx mcp-server-time` and `npx -y @modelcontextprotocol/server-memory` are downloaded inside the sandbox,
through its own network (slirp4netns, public addresses only, plus the registries' networks this machine's
policy allows), with the host's certificate settings passed on, as a new user's pasted config would be.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.flows import add_ready_server, add_server, call, result_text
from tests.support.harness import Harness, policy_toml
from tests.support.network_facts import allow_networks_toml

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

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
        report = await add_server(alice, "mytime", {"command": str(python), "args": ["-m", "mcp_server_time"]})

    assert f"`{interpreter}`" in report and "is not visible inside the sandbox" in report, report
    assert f"add `{interpreter.parent}`" in report and "read_only_paths" in report, report
