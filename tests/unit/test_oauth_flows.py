"""OAuthFlows: single-use, 10-minute sign-in states bound to the first browser, with an injectable clock."""

from __future__ import annotations

import asyncio

import pytest
from mcp.client.auth import OAuthFlowError

from app.domain.owner import Owner
from app.services.oauth_flows import FLOW_TTL_SECONDS, OAuthFlows, PendingSignIn, SignInError

pytestmark = pytest.mark.anyio

OWNER = Owner(team_id="T1", user_id="U1")
AUTH_URL = "https://auth.example.com/authorize?response_type=code&client_id=c&state=STATE123&code_challenge=x"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def flows_with_clock() -> tuple[OAuthFlows, Clock]:
    clock = Clock()
    return OAuthFlows("https://plugboard.example.com/", clock=clock), clock


async def started(flows: OAuthFlows) -> PendingSignIn:
    return flows.begin(OWNER, "server-1", "linear", AUTH_URL)


async def test_links_use_the_public_url_and_the_state_from_the_authorization_url() -> None:
    flows, _ = flows_with_clock()
    pending = await started(flows)
    assert pending.state == "STATE123"
    assert flows.redirect_uri == "https://plugboard.example.com/oauth/callback"
    assert flows.start_url(pending.state) == "https://plugboard.example.com/oauth/start?state=STATE123"


async def test_an_authorization_url_without_state_is_refused() -> None:
    flows, _ = flows_with_clock()
    with pytest.raises(OAuthFlowError):
        flows.begin(OWNER, "server-1", "linear", "https://auth.example.com/authorize?client_id=c")


async def test_the_browser_that_opened_the_start_page_completes_the_sign_in_once() -> None:
    flows, _ = flows_with_clock()
    pending = await started(flows)
    key = flows.opened("STATE123", None).browser_key
    assert flows.opened("STATE123", key) is pending  # the same browser may reload the page
    flows.complete("STATE123", key, code="abc", iss="https://auth.example.com", error=None)
    result = await flows.wait_for_code(pending)
    assert (result.code, result.state, result.iss) == ("abc", "STATE123", "https://auth.example.com")
    with pytest.raises(SignInError, match="no longer valid"):
        flows.complete("STATE123", key, code="abc", iss=None, error=None)


async def test_a_callback_without_the_start_cookie_is_refused_and_ends_the_sign_in() -> None:
    flows, _ = flows_with_clock()
    pending = await started(flows)
    flows.opened("STATE123", None)
    with pytest.raises(SignInError, match="different browser"):
        flows.complete("STATE123", None, code="abc", iss=None, error=None)
    with pytest.raises(OAuthFlowError, match="different browser"):
        await flows.wait_for_code(pending)


async def test_a_start_link_opened_in_a_second_browser_stops_working_for_everyone() -> None:
    flows, _ = flows_with_clock()
    pending = await started(flows)
    first_key = flows.opened("STATE123", None).browser_key
    with pytest.raises(SignInError, match="another browser"):
        flows.opened("STATE123", "someone-elses-cookie")
    with pytest.raises(SignInError, match="no longer valid"):
        flows.complete("STATE123", first_key, code="abc", iss=None, error=None)
    assert pending.finished.result() == "the sign-in link was opened in a second browser"


async def test_a_sign_in_older_than_ten_minutes_is_refused_and_its_waiter_is_told() -> None:
    flows, clock = flows_with_clock()
    pending = await started(flows)
    key = flows.opened("STATE123", None).browser_key
    clock.now += FLOW_TTL_SECONDS + 1
    with pytest.raises(SignInError, match="no longer valid"):
        flows.complete("STATE123", key, code="abc", iss=None, error=None)
    with pytest.raises(OAuthFlowError, match="10 minutes"):
        await flows.wait_for_code(pending)


async def test_a_start_link_older_than_ten_minutes_is_refused() -> None:
    flows, clock = flows_with_clock()
    pending = await started(flows)
    clock.now += FLOW_TTL_SECONDS + 1
    with pytest.raises(SignInError, match="no longer valid"):
        flows.opened("STATE123", None)
    assert pending.finished.result() == "the sign-in was not completed within 10 minutes"


async def test_an_error_from_the_authorization_server_is_not_echoed_and_ends_the_sign_in() -> None:
    flows, _ = flows_with_clock()
    pending = await started(flows)
    key = flows.opened("STATE123", None).browser_key
    with pytest.raises(SignInError) as refused:
        flows.complete("STATE123", key, code=None, iss=None, error="access_denied<script>")
    assert "script" not in str(refused.value)
    with pytest.raises(OAuthFlowError, match="did not grant access"):
        await flows.wait_for_code(pending)


async def test_an_abandoned_sign_in_tells_its_waiters_why() -> None:
    flows, _ = flows_with_clock()
    pending = await started(flows)
    flows.abandon(pending, "replaced")
    assert pending.finished.result() == "replaced"
    with pytest.raises(OAuthFlowError, match="replaced"):
        await flows.wait_for_code(pending)
    with pytest.raises(SignInError):
        flows.opened("STATE123", None)


async def test_over_https_the_start_page_sets_a_host_prefixed_secure_cookie_and_the_callback_needs_it() -> None:
    import httpx2
    from starlette.applications import Starlette

    from app.web.oauth_pages import oauth_routes

    flows, _ = flows_with_clock()
    pending = await started(flows)
    app = Starlette(routes=oauth_routes(flows, secure_cookie=True))
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="https://plugboard.example.com"
    ) as browser:
        start = await browser.get("/oauth/start?state=STATE123")
        assert start.status_code == 200
        cookie = start.headers["set-cookie"]
        assert cookie.startswith(f"__Host-plugboard_signin={pending.browser_key};")
        for attribute in ("HttpOnly", "Path=/;", "SameSite=lax", "Secure"):
            assert attribute in cookie, cookie
        assert "Domain" not in cookie
        assert start.headers["referrer-policy"] == "no-referrer"  # the start URL carries the state
        assert "frame-ancestors 'none'" in start.headers["content-security-policy"]

        async def connector_task() -> str:  # what ConnectorService does: redeem the code, then say it is done
            code = (await flows.wait_for_code(pending)).code
            pending.finished.set_result(None)
            return code

        redeemed = asyncio.ensure_future(connector_task())
        callback = await browser.get("/oauth/callback?state=STATE123&code=abc")
    assert callback.status_code == 200 and "is connected" in callback.text, callback.text
    assert await redeemed == "abc"


async def test_a_cookie_with_non_ascii_characters_is_just_a_wrong_cookie() -> None:
    flows, _ = flows_with_clock()
    await started(flows)
    flows.opened("STATE123", None)
    with pytest.raises(SignInError, match="different browser"):
        flows.complete("STATE123", "ключ", code="abc", iss=None, error=None)
