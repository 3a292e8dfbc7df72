"""A workspace's worth of stored servers: the app serves at once while the mirrors are brought up to date behind it.

2,000 owners × 3 enabled servers are inserted through the real repository before the real app starts. Judged on
behaviour, not on a stopwatch: /healthz and a Slack command are answered while the mirror rewrite is still under way,
no server process exists after boot, and a second pass rewrites nothing (only files that differ are written).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.domain.local_config import build_local_config
from app.domain.owner import Owner
from app.domain.server import ServerRecord
from app.wiring import open_store
from tests.servers import PYTHON, server_path
from tests.support.fake_slack import FakeSlack
from tests.support.harness import Harness, text_of
from tests.support.processes import (
    descendant_pids,
    every_child_reaped,  # noqa: F401  (autouse fixture)
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.anyio

OWNERS = 2000
SERVERS_EACH = 3
MARKER = "scale-marker"


async def fill(data_dir: Path) -> None:
    store = await open_store(data_dir, None)
    try:
        config = build_local_config(
            command=PYTHON, args=[server_path("tiny_server"), "--name", MARKER], env={}, cwd=None
        )
        async with store.db.transaction() as conn:
            for n in range(OWNERS):
                owner = Owner(team_id="T0SCALE", user_id=f"U{n:07d}")
                for k in range(SERVERS_EACH):
                    record = ServerRecord.approved_new(owner, f"server{k}", config, enabled=True, now=0.0)
                    await store.repo.insert(conn, record)
    finally:
        await store.close()


def mirrors(data_dir: Path) -> int:
    return sum(1 for _ in (data_dir / "users").glob("*/mcp.json"))


async def test_with_thousands_of_owners_stored_the_app_answers_at_once_and_starts_no_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    await fill(data)
    async with FakeSlack() as slack, Harness.app_on(data, slack) as harness:
        restore = asyncio.create_task(harness.app.restore())
        await wait_until(lambda: mirrors(data) > 0, timeout=60, what="the mirror rewrite to begin")

        health = await harness.http.get("/healthz")
        alice = harness.user(user_id="U0000007", team_id="T0SCALE")
        await alice.command("list")  # the ack is checked by the harness: within Slack's 3 s
        listing = text_of(await alice.reply())

        assert health.status_code == 200 and health.json() == {"ok": True}
        assert "*server0* — idle — starts on first use" in listing, listing
        assert not restore.done() and mirrors(data) < OWNERS, "the rewrite finished before the app was asked"
        assert await asyncio.wait_for(restore, 300) == OWNERS * SERVERS_EACH
        assert mirrors(data) == OWNERS
        assert descendant_pids(MARKER) == [], "a server process exists although nobody used one"
        assert await harness.app.servers.sync_mirrors() == 0, "files that matched the database were rewritten"
        assert slack.problems == []
