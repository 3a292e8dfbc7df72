"""`python -m app` as an admin runs it: a real process, real HTTP, real signals, real children."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.servers import PYTHON, server_path
from tests.support import slack_payloads as payloads
from tests.support.app_process import AppProcess
from tests.support.fake_slack import FakeSlack
from tests.support.harness import SIGNING_SECRET, policy_toml, text_of
from tests.support.loopback import free_port
from tests.support.processes import descendants_of, is_running, process
from tests.support.waiting import wait_until

pytestmark = pytest.mark.anyio

REPO_ROOT = Path(__file__).resolve().parents[2]
ACK_LIMIT_SECONDS = 3.0
TINY_SERVER = server_path("tiny_server")


def _base_env(home: Path) -> dict[str, str]:
    """A clean environment: nothing from the developer's shell or .env leaks in."""
    home.mkdir(exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "PYTHONPATH": str(REPO_ROOT)}


def _app_env(tmp_path: Path, slack: FakeSlack, port: int, **extra: str) -> dict[str, str]:
    policy_file = tmp_path / "policy.toml"  # sandboxed (the default), seeing the venv and tests/servers
    policy_file.write_text(policy_toml())
    env = _base_env(tmp_path / "home")
    env.update(
        PLUGBOARD_POLICY_FILE=str(policy_file),
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        PORT=str(port),
        HOST="127.0.0.1",
        PLUGBOARD_DATA_DIR=str(tmp_path / "data"),
        PLUGBOARD_RESTART_BACKOFF="0.05",
        PLUGBOARD_CONNECT_TIMEOUT="20",
    )
    env.update(extra)
    return env


# --- /proc ---------------------------------------------------------------------------------------------------


def _tiny_servers_under(pid: int) -> list[int]:
    """The tiny_server interpreter itself (not the bwrap processes around it, whose argv names it too)."""
    return [
        child
        for child, entry in descendants_of(pid).items()
        if entry.running and TINY_SERVER in entry.argv and Path(entry.argv[0]).name != "bwrap"
    ]


# --- the app as a process ----------------------------------------------------------------------------------------


@asynccontextmanager
async def running_app(
    tmp_path: Path, slack: FakeSlack, port: int | None = None, **extra: str
) -> AsyncIterator[tuple[AppProcess, httpx2.AsyncClient]]:
    port = port or free_port()
    app = await AppProcess.spawn(_app_env(tmp_path, slack, port, **extra), cwd=tmp_path, port=port)
    try:
        async with httpx2.AsyncClient(base_url=app.url) as http:
            await app.wait_healthy(http)
            yield app, http
    finally:
        await app.reap()


# --- Slack, signed, over real HTTP ----------------------------------------------------------------------------


async def _post_signed(http: httpx2.AsyncClient, body: str, secret: str = SIGNING_SECRET) -> httpx2.Response:
    started = time.monotonic()
    response = await http.post("/slack/events", content=body, headers=payloads.sign(body, secret), timeout=10.0)
    elapsed = time.monotonic() - started
    assert elapsed < ACK_LIMIT_SECONDS, f"Slack needs an answer within 3 s; took {elapsed:.2f} s"
    return response


async def _slash(http: httpx2.AsyncClient, slack: FakeSlack, text: str) -> tuple[httpx2.Response, str]:
    response_url = slack.new_response_url()
    body = payloads.slash_command(
        text,
        user_id=payloads.USER_ID,
        team_id=payloads.TEAM_ID,
        trigger_id=slack.issue_trigger_id(payloads.USER_ID),
        response_url=response_url,
    )
    response = await _post_signed(http, body)
    assert response.status_code == 200, response.text
    return response, response_url


async def _response(
    slack: FakeSlack, response_url: str, predicate: Callable[[dict[str, Any]], bool] = bool, timeout: float = 30.0
) -> dict[str, Any]:
    hook = FakeSlack.response_url_id(response_url)
    call = await slack.wait_for(
        "response_url", lambda c: c.path.endswith(hook) and c.status == 200 and predicate(c.params), timeout=timeout
    )
    return call.params


def _button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in [*(block.get("elements") or []), *([block["accessory"]] if block.get("accessory") else [])]:
            if element.get("action_id") == action_id:
                return {
                    "action_id": action_id,
                    "block_id": block.get("block_id", "b"),
                    "type": element["type"],
                    "value": element.get("value", ""),
                    "text": element.get("text"),
                }
    raise AssertionError(f"no {action_id!r} button in {json.dumps(message)[:500]}")


async def _add_tiny_server(http: httpx2.AsyncClient, slack: FakeSlack) -> None:
    """/mcp add-json, then Confirm, then wait until Slack was told the server is ready."""
    config = json.dumps({"command": PYTHON, "args": [TINY_SERVER]})
    _, response_url = await _slash(http, slack, f"add-json tiny {config}")
    confirmation = await _response(slack, response_url)
    assert TINY_SERVER in text_of(confirmation)

    click_url = slack.new_response_url()
    body = payloads.block_actions(
        _button(confirmation, "change_confirm"),
        user_id=payloads.USER_ID,
        team_id=payloads.TEAM_ID,
        trigger_id=slack.issue_trigger_id(payloads.USER_ID),
        response_url=click_url,
        message={"text": confirmation.get("text", ""), "blocks": confirmation["blocks"]},
    )
    response = await _post_signed(http, body)
    assert response.status_code == 200, response.text
    done = await _response(slack, click_url, lambda m: "ready" in text_of(m) or "error" in text_of(m))
    assert "ready" in text_of(done), text_of(done)


# --- tests ------------------------------------------------------------------------------------------------------


async def test_without_slack_tokens_it_exits_at_once_naming_the_missing_settings(tmp_path: Path) -> None:
    started = time.monotonic()
    app = await AppProcess.spawn(_base_env(tmp_path / "home"), cwd=tmp_path, port=0)
    try:
        code = await app.wait_exit(15.0)
    finally:
        await app.reap()

    assert code != 0
    assert time.monotonic() - started < 10, "it should fail fast, not after trying to connect anywhere"
    assert not (tmp_path / "data").exists(), "nothing is created before the settings are complete"
    assert "SLACK_BOT_TOKEN" in app.stderr
    assert "SLACK_APP_TOKEN" in app.stderr and "SLACK_SIGNING_SECRET" in app.stderr
    assert "Create the Slack app" in app.stderr
    assert "Traceback" not in app.stderr
    assert "## Create the Slack app" in (REPO_ROOT / "README.md").read_text()  # the pointer leads somewhere


async def test_http_mode_serves_health_and_signed_slash_commands_and_refuses_bad_signatures(tmp_path: Path) -> None:
    async with FakeSlack() as slack, running_app(tmp_path, slack) as (_app, http):
        health = await http.get("/healthz")
        assert health.status_code == 200 and health.json() == {"ok": True}

        response, _ = await _slash(http, slack, "help")
        assert "/mcp add-json" in response.json()["text"]

        body = payloads.slash_command(
            "help",
            user_id=payloads.USER_ID,
            team_id=payloads.TEAM_ID,
            trigger_id=slack.issue_trigger_id(),
            response_url=slack.new_response_url(),
        )
        forged = await _post_signed(http, body, secret="not-the-signing-secret")
        assert forged.status_code == 401

        unsigned = await http.post(
            "/slack/events", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert unsigned.status_code == 401
    assert slack.problems == []


async def test_without_an_encryption_key_one_is_generated_private_and_never_printed(tmp_path: Path) -> None:
    async with FakeSlack() as slack, running_app(tmp_path, slack) as (app, _):
        key_file = tmp_path / "data" / "encryption.key"
        assert key_file.is_file()
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        await app.stop()

    key = key_file.read_text().strip()
    secret_part = key.partition(":")[2]
    assert "PLUGBOARD_ENCRYPTION_KEYS" in app.stderr and "encryption.key" in app.stderr
    assert secret_part and secret_part not in app.stderr
    assert slack.bot_token not in app.stderr and SIGNING_SECRET not in app.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stop_signal_exits_cleanly_and_leaves_no_server_process_behind(
    tmp_path: Path, sig: signal.Signals
) -> None:
    async with FakeSlack() as slack, running_app(tmp_path, slack) as (app, http):
        await _add_tiny_server(http, slack)
        await wait_until(lambda: _tiny_servers_under(app.pid), timeout=10, what="tiny_server running")
        tree = list(descendants_of(app.pid))

        code = await app.stop(sig)

        assert code == 0, app.stderr
        survivors = {pid: entry.argv for pid in tree if (entry := process(pid)) is not None and entry.running}
        assert survivors == {}, f"outlived the app: {survivors}"
        assert "Traceback" not in app.stderr, app.stderr
    assert slack.problems == []


async def test_after_a_restart_confirmed_servers_wait_idle_and_start_on_their_first_call(tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        async with running_app(tmp_path, slack) as (first, http):
            await _add_tiny_server(http, slack)
            [old_child] = await wait_until(lambda: _tiny_servers_under(first.pid), timeout=10, what="tiny_server")
            assert await first.stop() == 0
        assert not is_running(old_child)

        async with running_app(tmp_path, slack) as (second, http):
            _, response_url = await _slash(http, slack, "list")
            listing = text_of(await _response(slack, response_url))
            assert "*tiny* — idle — 2 tools, starts on first use" in listing, listing
            assert _tiny_servers_under(second.pid) == [], "a server started at boot"

            _, response_url = await _slash(http, slack, 'call tiny echo {"message": "first use"}')
            assert "first use" in text_of(await _response(slack, response_url))
            [new_child] = _tiny_servers_under(second.pid)
            assert await second.stop() == 0
        assert not is_running(new_child)
        assert slack.problems == []
