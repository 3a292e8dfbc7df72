"""An edited server's new copy starts and is listed before the old one stops, so its tools stay callable throughout.

Through the real app, sandboxed (each copy in cgroups of its own, the home mount shared) and trusted (plain child
processes), calls going through the real ToolService path in a loop while the owner confirms an edit.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.domain.errors import PlugboardError
from app.domain.local_config import build_local_config
from app.domain.owner import Owner
from tests.servers import PYTHON, server_path
from tests.support import slack_payloads as payloads
from tests.support.flows import add_ready_server
from tests.support.harness import Harness, policy_toml
from tests.support.processes import (
    descendant_pids,
    every_child_reaped,  # noqa: F401  (autouse fixture)
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.anyio

OWNER = Owner(team_id=payloads.TEAM_ID, user_id=payloads.USER_ID)
TINY = server_path("tiny_server")
MAX_CALLS = 5000  # the loop's bound, far above what an edit takes


@pytest.mark.parametrize("mode", ["sandboxed", "trusted"])
async def test_a_tool_stays_callable_while_its_server_is_edited_and_the_new_copy_replaces_the_old(
    tmp_path: Path, mode: str
) -> None:
    async with Harness.running(tmp_path / "data", policy=policy_toml(mode)) as harness:
        alice = harness.user()
        await add_ready_server(alice, "hot", {"command": PYTHON, "args": [TINY, "--tools", "echo", "--name", "hot-v1"]})
        old = descendant_pids("hot-v1")  # the server and, sandboxed, the sandbox's processes around it
        assert old
        [item] = await harness.app.servers.overview(OWNER)
        edited = build_local_config(
            command=PYTHON, args=[TINY, "--tools", "echo,shout", "--name", "hot-v2"], env={}, cwd=None
        )
        change = await harness.app.servers.propose_edit(OWNER, item.record.id, edited)
        assert change is not None

        editing = asyncio.Event()
        edited_done = asyncio.Event()
        answers: list[tuple[bool, str]] = []  # (made while the edit was being applied, answer)
        failures: list[str] = []

        async def keep_calling() -> None:
            for n in range(MAX_CALLS):
                during = editing.is_set() and not edited_done.is_set()
                try:
                    outcome = await harness.app.tools.call(OWNER, "hot", "echo", json.dumps({"message": f"m{n}"}))
                    answers.append((during, outcome.text))
                    if outcome.is_error or outcome.text != f"m{n}":
                        failures.append(outcome.text)
                except PlugboardError as exc:
                    failures.append(str(exc))
                if edited_done.is_set() and len(answers) > 10:
                    return

        caller = asyncio.create_task(keep_calling())
        await wait_until(lambda: len(answers) >= 3, timeout=10, what="the first calls")
        editing.set()
        await harness.app.servers.confirm(OWNER, change.id)
        assert (await harness.app.servers.wait_settled(item.record.id, 30)).state == "ready"
        await wait_until(lambda: descendant_pids("hot-v1") == [], timeout=30, what="the old copy's exit")
        edited_done.set()
        await asyncio.wait_for(caller, 30)

        assert failures == [], f"calls failed during the edit: {failures[:3]}"
        assert sum(1 for during, _ in answers if during) >= 3, "too few calls overlapped the edit to show anything"
        assert descendant_pids("hot-v1") == [] and not set(old) & set(descendant_pids()), "the old copy still runs"
        assert descendant_pids("hot-v2")
        names = {t.tool.name for t in await harness.app.tools.catalog(OWNER)}
        assert names == {"echo", "shout"}
        shout = await harness.app.tools.call(OWNER, "hot", "shout", json.dumps({"message": "new copy"}))
        assert shout.text == "NEW COPY"


async def test_an_edit_whose_new_copy_fails_replaces_the_old_copy_with_the_error(tmp_path: Path) -> None:
    async with Harness.running(tmp_path / "data") as harness:
        alice = harness.user()
        await add_ready_server(alice, "hot", {"command": PYTHON, "args": [TINY, "--tools", "echo", "--name", "hot-v1"]})
        [item] = await harness.app.servers.overview(OWNER)
        broken = build_local_config(command=PYTHON, args=[str(tmp_path / "missing_server.py")], env={}, cwd=None)
        change = await harness.app.servers.propose_edit(OWNER, item.record.id, broken)
        assert change is not None

        await harness.app.servers.confirm(OWNER, change.id)

        # The owner approved the new config: the old one does not keep running behind it.
        await wait_until(lambda: descendant_pids("hot-v1") == [], timeout=20, what="the old copy's exit")
        status = harness.app.sessions.status(item.record.id)
        assert status.state in ("error", "starting"), status.label()
        with pytest.raises(PlugboardError):
            await harness.app.tools.call(OWNER, "hot", "echo", json.dumps({"message": "old copy?"}))
