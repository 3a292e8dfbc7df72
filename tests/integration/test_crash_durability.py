"""kill -9 in the middle of many tool calls: every call whose result Slack was shown has its audit row afterwards.

Audit rows are group-committed (app/store/group_commit.py): concurrent calls share one COMMIT, and a call's
result is sent only after that COMMIT returned. This test holds the app to it with a real process, real HTTP and a
real SIGKILL as soon as a third of the results were shown (the rest still in flight or being committed).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx2
import pytest

from app.domain.owner import Owner
from app.store.database import Database
from app.wiring import DATABASE_FILE
from tests.servers import PYTHON, server_path
from tests.support.app_process import (
    AppProcess,
    app_env,
    local_server,
    new_encryption_key,
    populate,
    post_slash,
)
from tests.support.fake_slack import FakeSlack
from tests.support.harness import policy_toml
from tests.support.loopback import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.anyio

OWNER = Owner(team_id="T0CRASH", user_id="U0CRASH")
CALLS = 60


async def _spawn(tmp_path: Path, slack: FakeSlack, key: str) -> AppProcess:
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(policy_toml(mode="trusted"))  # the sandbox is not what this test is about
    port = free_port()
    env = app_env(tmp_path / "data", policy_file, api_url=slack.api_url, bot_token=slack.bot_token, port=port, key=key)
    return await AppProcess.spawn(env, cwd=tmp_path, port=port)


def _results_shown(slack: FakeSlack, tokens: list[str]) -> set[str]:
    """Tokens whose tool result reached Slack (an echo result carries its token back)."""
    shown: set[str] = set()
    for call in slack.calls_to("response_url"):
        if call.status != 200:
            continue
        message = json.dumps(call.params)
        shown.update(token for token in tokens if token in message and ":x:" not in message)
    return shown


async def _call(http: httpx2.AsyncClient, app: AppProcess, slack: FakeSlack, message: str) -> str:
    response_url = slack.new_response_url()
    arguments = json.dumps({"message": message})
    response = await post_slash(http, app.url, f"call tiny echo {arguments}", owner=OWNER, response_url=response_url)
    assert response.status_code == 200, response.text
    return response_url


async def test_every_tool_result_shown_before_a_kill_9_has_its_audit_row(tmp_path: Path) -> None:
    key = new_encryption_key()
    record = local_server(OWNER, "tiny", PYTHON, [server_path("tiny_server")], time.time())
    await populate(tmp_path / "data", key, [record])
    tokens = [f"crash-token-{index:03d}" for index in range(CALLS)]

    async with FakeSlack() as slack:
        app = await _spawn(tmp_path, slack, key)
        try:
            async with httpx2.AsyncClient(timeout=10.0) as http:
                await app.wait_healthy(http)
                await _call(http, app, slack, "warm-up")  # the first call may have to start the server
                await wait_until(lambda: _results_shown(slack, ["warm-up"]), timeout=60, what="the first result")

                await asyncio.gather(*(_call(http, app, slack, token) for token in tokens))
                await wait_until(
                    lambda: len(_results_shown(slack, tokens)) >= CALLS // 3, timeout=60, what="results shown"
                )
                app.kill_hard()
                await app.process.wait()
        finally:
            await app.reap()
        shown = _results_shown(slack, tokens)  # nothing more can arrive from a dead process

        second = await _spawn(tmp_path, slack, key)  # the app starts again on what the kill left behind
        try:
            async with httpx2.AsyncClient(timeout=10.0) as http:
                await second.wait_healthy(http)
            assert await second.stop() == 0, second.text
        finally:
            await second.reap()

    db = await Database.open(tmp_path / "data" / DATABASE_FILE)
    try:
        rows = await db.fetch_all(
            "SELECT detail_json FROM audit_log WHERE action = 'tool_call' AND owner_id = ?", (OWNER.id,)
        )
    finally:
        await db.close()
    audited = {token for row in rows for token in tokens if token in row["detail_json"]}
    assert len(shown) >= CALLS // 3
    assert shown <= audited, f"results shown without an audit row: {sorted(shown - audited)}"
