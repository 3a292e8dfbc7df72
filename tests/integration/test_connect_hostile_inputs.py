"""Hostile URLs typed into the Connect modal: refused inline on the URL field, nothing stored, and nothing
reaches a loopback canary; a redirect from an allowed server to a forbidden one fails at connect time."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.owner import Owner
from tests.support.canary import redirect, running_canary
from tests.support.connectors import (
    connect_and_confirm,
    field_errors,
    final_report,
    open_connect,
    remote_policy,
    submit_connect,
)
from tests.support.harness import Harness, policy_toml, text_of
from tests.support.slack_payloads import TEAM_ID, USER_ID

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id=TEAM_ID, user_id=USER_ID)

HOSTILE = [
    ("loopback-ip", "http://127.0.0.1:{port}/mcp", "loopback"),
    ("metadata", "http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("ipv4-mapped-ipv6", "http://[::ffff:127.0.0.1]:{port}/mcp", "IPv4-mapped"),
    ("decimal-ip", "http://2130706433:{port}/mcp", "non-standard form"),
    ("hex-ip", "http://0x7f.1:{port}/mcp", "non-standard form"),
    ("userinfo", "https://user:hunter2@mcp.example.com/mcp", "not in the URL"),
    ("plain-http-public", "http://mcp.example.com/mcp", "Use https://"),
    ("localhost-name", "http://localhost:{port}/mcp", "names this machine"),
    ("file-scheme", "file:///etc/passwd", "Only https://"),
    ("non-443-port", "https://mcp.example.com:{port}/mcp", "is not allowed"),
]


@pytest.mark.parametrize(("case", "url", "reason"), HOSTILE, ids=[c[0] for c in HOSTILE])
async def test_a_hostile_url_is_refused_inline_and_nothing_is_stored_or_contacted(
    tmp_path: Path, case: str, url: str, reason: str
) -> None:
    async with running_canary() as canary, Harness.running(tmp_path / "data", policy=policy_toml()) as harness:
        alice = harness.user()
        view = await open_connect(alice)
        mark = harness.slack.mark()
        response = await submit_connect(alice, view, name="evil", url=url.format(port=canary.port))

        errors = field_errors(response)
        assert list(errors) == ["url"], errors
        assert reason in errors["url"], errors["url"]
        assert "hunter2" not in errors["url"]
        assert await harness.app.servers.overview(ALICE) == []
        pending = await harness.app.db.fetch_one("SELECT COUNT(*) FROM pending_changes")
        assert pending is not None and pending[0] == 0
        assert harness.slack.calls_to("response_url")[mark:] == []
        assert canary.untouched


async def test_a_loopback_policy_still_refuses_loopback_ports_it_does_not_list(tmp_path: Path) -> None:
    async with running_canary() as allowed, running_canary() as other:
        policy = remote_policy(ports=[allowed.port])
        async with Harness.running(tmp_path / "data", policy=policy) as harness:
            alice = harness.user()
            view = await open_connect(alice)
            response = await submit_connect(alice, view, name="evil", url=other.url("/mcp"))
            assert f"Port {other.port} is not allowed" in field_errors(response)["url"]
            assert await harness.app.servers.overview(ALICE) == []
        assert other.untouched and allowed.untouched


@pytest.mark.parametrize("target", ["loopback-port", "metadata"])
async def test_a_redirect_from_an_allowed_server_to_a_forbidden_one_fails_the_connection(
    tmp_path: Path, target: str
) -> None:
    async with running_canary() as forbidden:
        location = forbidden.url("/mcp") if target == "loopback-port" else "http://169.254.169.254/mcp"
        async with running_canary(lambda _request: redirect(location, 307)) as allowed:
            policy = remote_policy(ports=[allowed.port])
            async with Harness.running(tmp_path / "data", policy=policy) as harness:
                alice = harness.user()
                await connect_and_confirm(alice, name="bouncer", url=allowed.url("/mcp"), transport="http")
                done = await final_report(alice)
                assert "`bouncer`: error — the server redirected to another address" in done, done
                assert allowed.requests, "the allowed server was asked"
                await alice.command("list")
                assert "error" in text_of(await alice.reply())
        assert forbidden.untouched
