"""Remote servers that sign in with OAuth, against a real authorization server on loopback: the browser flow
through /oauth/start and /oauth/callback, token refresh, re-authentication, and hostile callbacks."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.types import ASGIApp

from app.domain.owner import Owner
from tests.servers.oauth_server import TestAuthority, build_oauth_app
from tests.support.canary import running_canary
from tests.support.connectors import (
    PUBLIC_URL,
    Browser,
    app_logs,
    button_url,
    connect_and_confirm,
    everything_sent,
    field_errors,
    final_report,
    query,
    remote_policy,
    submit_connect,
    wait_dm,
)
from tests.support.fake_slack import FakeSlack
from tests.support.harness import Harness, SlackUser, text_of
from tests.support.loopback import LoopbackServer, serve_asgi
from tests.support.slack_payloads import TEAM_ID, USER_ID

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id=TEAM_ID, user_id=USER_ID)


@dataclass
class OAuthSetup:
    harness: Harness
    server: LoopbackServer
    authority: TestAuthority

    @property
    def mcp_url(self) -> str:
        return self.server.url("/mcp")


@asynccontextmanager
async def oauth_setup(
    tmp_path: Path,
    *,
    metadata_overrides: dict[str, Any] | None = None,
    challenge_metadata_url: str | None = None,
    extra_ports: tuple[int, ...] = (),
) -> AsyncIterator[OAuthSetup]:
    holder: dict[str, TestAuthority] = {}

    def build(base_url: str) -> ASGIApp:
        app, authority = build_oauth_app(
            base_url, metadata_overrides=metadata_overrides, challenge_metadata_url=challenge_metadata_url
        )
        holder["authority"] = authority
        return app

    async with serve_asgi(build) as server:
        policy = remote_policy(ports=[server.port, *extra_ports])
        async with Harness.running(tmp_path / "data", policy=policy, plugboard_public_url=PUBLIC_URL) as harness:
            yield OAuthSetup(harness, server, holder["authority"])


async def start_oauth_connect(setup: OAuthSetup, alice: SlackUser, name: str = "secured") -> dict[str, Any]:
    """Connect with OAuth through the modal and confirm; returns the DM carrying the Connect button."""
    mark = setup.harness.slack.mark()
    confirmation = await connect_and_confirm(alice, name=name, url=setup.mcp_url, transport="http", auth="oauth")
    shown = text_of(confirmation)
    assert "*Authentication:* OAuth" in shown and setup.mcp_url in shown
    done = await final_report(alice)
    assert "check your DMs for a *Connect* button" in done, done
    return await wait_dm(setup.harness, lambda t: "Sign in to connect" in t, after=mark)


async def test_oauth_sign_in_through_the_browser_connects_the_server_and_its_tools_work(tmp_path: Path) -> None:
    with app_logs() as logged:
        await _sign_in_connect_use_and_remove(tmp_path, logged)


async def _sign_in_connect_use_and_remove(tmp_path: Path, logged: list[str]) -> None:
    async with oauth_setup(tmp_path) as setup:
        harness, authority = setup.harness, setup.authority
        alice = harness.user()
        dm = await start_oauth_connect(setup, alice)
        start_url = button_url(dm, "oauth_sign_in_link")
        assert start_url.startswith(f"{PUBLIC_URL}/oauth/start?state=")
        assert "`127.0.0.1`" in text_of(dm)

        async with Browser(harness) as browser:
            start = await browser.open_start(start_url)
            assert start.status_code == 200
            assert "plugboard_signin" in start.headers["set-cookie"]
            callback_url = await browser.authorize(start)
            params = query(callback_url)
            assert set(params) == {"code", "state", "iss"} and params["iss"] == setup.server.base_url
            assert authority.token_requests == 0  # nothing redeemed before our callback ran
            page = await browser.callback(callback_url)

        assert page.status_code == 200, page.text
        assert "is connected" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["x-frame-options"] == "DENY"
        assert authority.grants["authorization_code"] == 1
        assert authority.requests["POST /register"] == 1  # only the sign-in registers a client
        granted = authority.authorize_params[-1]
        assert granted.resource == setup.mcp_url  # RFC 8707

        connected = await wait_dm(harness, lambda t: "Connected" in t and "tools" in t)
        assert "Connected `secured` — 2 tools" in text_of(connected), text_of(connected)

        await alice.command('call secured echo {"message":"through oauth"}')
        assert "through oauth" in text_of(await alice.reply())

        sent = everything_sent(harness)
        assert remote_mirror(harness) == {
            "mcpServers": {"secured": {"type": "http", "url": setup.mcp_url, "auth": {"type": "oauth", "scopes": []}}}
        }
        stored = b"".join(p.read_bytes() for p in harness.data_dir.rglob("*") if p.is_file())
        assert any(line.startswith("app.") for line in logged)  # the capture does see the app's own logs
        # (The state is in the Connect link on purpose: it is single-use and bound to the first browser.)
        for secret in [*authority.access_tokens, *authority.refresh_tokens, params["code"]]:
            assert secret not in sent
            assert not [line for line in logged if secret in line]
            assert secret.encode() not in stored
        assert await credential_rows(harness) == 1

        await alice.command("remove secured")
        await alice.click(await alice.reply(), "remove_confirm")
        assert "removed" in text_of(await alice.reply()).lower()
        assert await credential_rows(harness) == 0  # tokens and client registration are gone with the server
        assert remote_mirror(harness) == {"mcpServers": {}}


async def credential_rows(harness: Harness) -> int:
    row = await harness.app.db.fetch_one("SELECT COUNT(*) FROM oauth_credentials")
    assert row is not None
    return int(row[0])


def remote_mirror(harness: Harness) -> object:
    return json.loads((harness.data_dir / "users" / ALICE.id / "mcp_remote.json").read_text())


async def sign_in(setup: OAuthSetup, dm: dict[str, Any]) -> None:
    async with Browser(setup.harness) as browser:
        result = await browser.sign_in(button_url(dm, "oauth_sign_in_link"))
    assert result.callback.status_code == 200, result.callback.text


async def connected_server(setup: OAuthSetup, alice: SlackUser) -> None:
    mark = setup.harness.slack.mark()
    await sign_in(setup, await start_oauth_connect(setup, alice))
    await wait_dm(setup.harness, lambda t: "Connected `secured`" in t, after=mark)


async def call_echo(alice: SlackUser, message: str) -> str:
    await alice.command(f'call secured echo {{"message":"{message}"}}')
    return text_of(await alice.reply())


async def test_an_expired_access_token_is_refreshed_and_a_revoked_refresh_token_asks_the_owner_to_reconnect(
    tmp_path: Path,
) -> None:
    async with oauth_setup(tmp_path) as setup:
        harness, authority = setup.harness, setup.authority
        alice = harness.user()
        await connected_server(setup, alice)
        assert "first" in await call_echo(alice, "first")

        authority.expire_access_tokens()
        assert "after expiry" in await call_echo(alice, "after expiry")
        assert authority.grants["refresh_token"] == 1

        authority.revoke_refresh_tokens()
        authority.expire_access_tokens()
        mark = harness.slack.mark()
        answer = await call_echo(alice, "after revocation")
        assert "after revocation" not in answer
        dm = await wait_dm(harness, lambda t: "needs re-authentication" in t, after=mark)
        assert "Reconnect" in json.dumps(dm["blocks"])
        await alice.command("list")
        assert "needs re-authentication" in text_of(await alice.reply())

        mark = harness.slack.mark()
        await alice.click(dm, "server_reconnect")
        assert "I'll DM you a Connect link" in text_of(await alice.reply())
        await sign_in(setup, await wait_dm(harness, lambda t: "Sign in to connect" in t, after=mark))
        await wait_dm(harness, lambda t: "Connected `secured`" in t, after=mark)
        assert "back again" in await call_echo(alice, "back again")
        assert authority.grants["authorization_code"] == 2


def shift_sign_in_clock(harness: Harness, seconds: float) -> None:
    """Move the sign-in flows' clock forward (OAuthFlows takes an injectable clock)."""
    flows = harness.app.connectors._flows  # the clock is the seam; no sleeping for 10 minutes
    real = flows._clock
    flows._clock = lambda: real() + seconds


async def try_again(setup: OAuthSetup, alice: SlackUser, failure: dict[str, Any]) -> dict[str, Any]:
    mark = setup.harness.slack.mark()
    await alice.click(failure, "server_reconnect")
    return await wait_dm(setup.harness, lambda t: "Sign in to connect" in t, after=mark)


async def test_hostile_or_stale_callbacks_are_refused_with_a_clear_page_and_never_reach_the_token_endpoint(
    tmp_path: Path,
) -> None:
    async with oauth_setup(tmp_path) as setup:
        harness, authority = setup.harness, setup.authority
        alice = harness.user()

        # Flow A: callbacks without a state, or with a state nobody issued, do nothing at all.
        link = await start_oauth_connect(setup, alice)
        async with Browser(harness) as browser, Browser(harness) as eve:
            for path in ("/oauth/callback?code=stolen", "/oauth/callback?code=stolen&state=not-a-real-state"):
                page = await browser.get(path)
                assert page.status_code == 400 and "no longer valid" in page.text, page.text
                assert page.headers["cache-control"] == "no-store"
            # ... a callback from a browser that never opened the start page (no cookie) is refused, and it
            # ends that sign-in: the state was exposed, so it is not usable any more.
            mark = harness.slack.mark()
            callback_url = await browser.authorize(await browser.open_start(button_url(link, "oauth_sign_in_link")))
            page = await eve.callback(callback_url)
            assert page.status_code == 400 and "started in a different browser" in page.text, page.text
            page = await browser.callback(callback_url)
            assert page.status_code == 400 and "no longer valid" in page.text
            failure = await wait_dm(harness, lambda t: "Could not connect `secured`" in t, after=mark)
            assert "finished in a different browser" in text_of(failure)
        assert authority.token_requests == 0 and authority.code_redemptions == 0

        # Flow B: a start link opened in a second browser stops working for both.
        link = await try_again(setup, alice, failure)
        async with Browser(harness) as browser, Browser(harness) as eve:
            mark = harness.slack.mark()
            start = await browser.open_start(button_url(link, "oauth_sign_in_link"))
            assert start.status_code == 200
            page = await eve.open_start(button_url(link, "oauth_sign_in_link"))
            assert page.status_code == 400 and "already opened in another browser" in page.text, page.text
            failure = await wait_dm(harness, lambda t: "Could not connect `secured`" in t, after=mark)
            assert "opened in a second browser" in text_of(failure)
        assert authority.token_requests == 0

        # Flow C: the genuine callback works once; a replay of it is refused.
        link = await try_again(setup, alice, failure)
        async with Browser(harness) as browser:
            result = await browser.sign_in(button_url(link, "oauth_sign_in_link"))
            assert result.callback.status_code == 200, result.callback.text
            assert authority.token_requests == 1
            replay = await browser.callback(result.callback_url)
            assert replay.status_code == 400 and "no longer valid" in replay.text
        await wait_dm(harness, lambda t: "Connected `secured`" in t)
        assert authority.token_requests == 1

        # Flow D: a callback that arrives after the 10-minute lifetime is refused; so is a start link.
        authority.revoke_refresh_tokens()
        authority.expire_access_tokens()
        link = await try_again(setup, alice, failure)
        async with Browser(harness) as browser:
            callback_url = await browser.authorize(await browser.open_start(button_url(link, "oauth_sign_in_link")))
            mark = harness.slack.mark()
            shift_sign_in_clock(harness, 601)
            page = await browser.callback(callback_url)
            assert page.status_code == 400 and "no longer valid" in page.text
            failure = await wait_dm(harness, lambda t: "Could not connect `secured`" in t, after=mark)
            assert "not completed within 10 minutes" in text_of(failure)
        assert authority.code_redemptions == 1

        link = await try_again(setup, alice, failure)
        shift_sign_in_clock(harness, 601)
        async with Browser(harness) as browser:
            page = await browser.open_start(button_url(link, "oauth_sign_in_link"))
            assert page.status_code == 400 and "no longer valid" in page.text
        assert authority.code_redemptions == 1  # only flow C's genuine code was ever redeemed


async def test_an_authorization_server_without_pkce_s256_is_refused_before_anyone_signs_in(tmp_path: Path) -> None:
    async with oauth_setup(tmp_path, metadata_overrides={"code_challenge_methods_supported": ["plain"]}) as setup:
        alice = setup.harness.user()
        mark = setup.harness.slack.mark()
        await connect_and_confirm(alice, name="secured", url=setup.mcp_url, transport="http", auth="oauth")
        failure = await wait_dm(setup.harness, lambda t: "Could not connect `secured`" in t, after=mark)
        assert "PKCE" in text_of(failure) and "S256" in text_of(failure), text_of(failure)
        assert not [c for c in setup.harness.slack.calls_to("chat.postMessage") if "Sign in" in text_of(c.params)]
        assert setup.authority.authorize_params == [] and setup.authority.token_requests == 0


INTERNAL_ENDPOINTS = [
    # (case, where the hostile URL goes, the URL (CANARY = a loopback port the policy does not list), shown)
    ("token-endpoint-metadata-ip", "token_endpoint", "http://169.254.169.254/token", "token endpoint"),
    ("token-endpoint-other-port", "token_endpoint", "CANARY/token", "token endpoint"),
    ("registration-endpoint-other-port", "registration_endpoint", "CANARY/register", "network policy"),
    ("challenge-resource-metadata", "challenge", "CANARY/.well-known/oauth-protected-resource", "network policy"),
]


@pytest.mark.parametrize(("case", "field", "url", "shown"), INTERNAL_ENDPOINTS, ids=[c[0] for c in INTERNAL_ENDPOINTS])
async def test_oauth_discovery_pointing_at_an_internal_address_is_refused_by_the_egress_guard(
    tmp_path: Path, case: str, field: str, url: str, shown: str
) -> None:
    async with running_canary() as canary:
        url = url.replace("CANARY", canary.url("").rstrip("/"))
        hostile: dict[str, Any] = (
            {"challenge_metadata_url": url} if field == "challenge" else {"metadata_overrides": {field: url}}
        )
        async with oauth_setup(tmp_path, **hostile) as setup:
            alice = setup.harness.user()
            mark = setup.harness.slack.mark()
            await connect_and_confirm(alice, name="secured", url=setup.mcp_url, transport="http", auth="oauth")
            failure = await wait_dm(setup.harness, lambda t: "Could not connect `secured`" in t, after=mark)
            text = text_of(failure)
            assert shown in text and "network policy" in text, text
            host = "169.254.169.254" if "169.254" in url else f"Port {canary.port}"
            assert host in text, text
            assert not [c for c in setup.harness.slack.calls_to("chat.postMessage") if "Sign in" in text_of(c.params)]
            assert setup.authority.code_redemptions == 0
        assert canary.untouched


async def test_a_second_reconnect_replaces_the_waiting_sign_in_and_only_the_newest_link_works(tmp_path: Path) -> None:
    async with oauth_setup(tmp_path) as setup:
        harness = setup.harness
        alice = harness.user()
        first = await start_oauth_connect(setup, alice)
        mark = harness.slack.mark()
        record = (await harness.app.servers.get(ALICE, "secured")).record
        harness.app.connectors.start_authorization(record)
        second = await wait_dm(harness, lambda t: "Sign in to connect" in t, after=mark)
        assert button_url(second, "oauth_sign_in_link") != button_url(first, "oauth_sign_in_link")
        async with Browser(harness) as browser:
            stale = await browser.open_start(button_url(first, "oauth_sign_in_link"))
            assert stale.status_code == 400 and "no longer valid" in stale.text
        await sign_in(setup, second)
        await wait_dm(harness, lambda t: "Connected `secured`" in t, after=mark)
        assert not [c for c in harness.slack.calls_to("chat.postMessage")[mark:] if "Could not" in text_of(c.params)]


async def test_tokens_are_never_sent_to_the_new_url_after_the_server_url_changes(tmp_path: Path) -> None:
    holder: dict[str, TestAuthority] = {}

    def build(base_url: str) -> ASGIApp:
        app, holder["other"] = build_oauth_app(base_url)
        return app

    async with serve_asgi(build) as other_server, oauth_setup(tmp_path, extra_ports=(other_server.port,)) as setup:
        harness, other = setup.harness, holder["other"]
        alice = harness.user()
        await connected_server(setup, alice)
        old_tokens = set(setup.authority.access_tokens) | set(setup.authority.refresh_tokens)

        view = await alice.open_modal("edit secured")
        mark = harness.slack.mark()
        response = await submit_connect(
            alice, view, name=None, url=other_server.url("/mcp"), transport="http", auth="oauth"
        )
        assert field_errors(response) == {}
        change = await alice.reply()
        assert other_server.url("/mcp") in text_of(change)
        await alice.click(change, "change_confirm")
        link = await wait_dm(harness, lambda t: "Sign in to connect" in t, after=mark)
        await sign_in(setup, link)
        await wait_dm(harness, lambda t: "Connected `secured`" in t, after=mark)
        assert "moved" in await call_echo(alice, "moved")

        presented = {h.removeprefix("Bearer ") for h in other.bearer_headers if h}
        assert presented and not presented & old_tokens
        assert other.grants["authorization_code"] == 1


async def test_after_a_restart_a_stored_access_token_past_its_expiry_is_refreshed_before_it_is_used(
    tmp_path: Path,
) -> None:
    holder: dict[str, TestAuthority] = {}

    def build(base_url: str) -> ASGIApp:
        app, holder["authority"] = build_oauth_app(base_url)
        return app

    async with serve_asgi(build) as server:
        authority = holder["authority"]
        policy = remote_policy(ports=[server.port])
        async with Harness.running(tmp_path / "data", policy=policy, plugboard_public_url=PUBLIC_URL) as first:
            await connected_server(OAuthSetup(first, server, authority), first.user())
        assert authority.grants == {"authorization_code": 1}

        async with (
            FakeSlack() as slack,
            Harness.app_on(tmp_path / "data", slack, policy=policy, plugboard_public_url=PUBLIC_URL) as restarted,
        ):
            credentials = restarted.app.connectors._credentials  # the store's clock is the seam
            credentials.clock = lambda: time.time() + 7200  # two hours later: the 1-hour access token has expired
            assert await restarted.app.restore() == 1
            record = (await restarted.app.servers.get(ALICE, "secured")).record
            assert not restarted.app.sessions.is_live(record.id)  # servers start on first use
            assert "after restart" in await call_echo(restarted.user(), "after restart")
            assert restarted.app.sessions.status(record.id).state == "ready"
            assert authority.grants["refresh_token"] == 1  # refreshed up front, not after a refusal


@pytest.mark.parametrize("iss", ["http://evil.example", None])
async def test_a_callback_whose_issuer_does_not_match_is_refused_before_the_code_is_redeemed(
    tmp_path: Path, iss: str | None
) -> None:
    async with oauth_setup(tmp_path) as setup:
        harness = setup.harness
        alice = harness.user()
        link = await start_oauth_connect(setup, alice)
        mark = harness.slack.mark()
        async with Browser(harness) as browser:
            callback_url = await browser.authorize(await browser.open_start(button_url(link, "oauth_sign_in_link")))
            params = query(callback_url)
            tampered = {k: v for k, v in params.items() if k != "iss"} | ({"iss": iss} if iss else {})
            page = await browser.callback(f"{PUBLIC_URL}/oauth/callback?{urlencode(tampered)}")
        assert page.status_code == 400 and "iss mismatch" in page.text, page.text
        assert "evil.example" not in page.text
        failure = await wait_dm(harness, lambda t: "Could not connect `secured`" in t, after=mark)
        assert "iss mismatch" in text_of(failure) and "evil.example" not in text_of(failure)
        assert setup.authority.code_redemptions == 0
