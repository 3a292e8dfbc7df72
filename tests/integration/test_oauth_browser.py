"""The OAuth pages in a real headless Chromium: the Slack Connect link, the start page, the authorization
server's automatic approval, and the callback page, with Plugboard served on a real loopback port."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.types import ASGIApp

from tests.servers.oauth_server import TestAuthority, build_oauth_app
from tests.support.connectors import button_url, connect_and_confirm, remote_policy, wait_dm
from tests.support.harness import Harness, text_of
from tests.support.loopback import bound_socket, serve_asgi

pytestmark = pytest.mark.anyio

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (make system-deps)")
async def test_a_person_signs_in_through_the_connect_link_in_a_real_browser(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    holder: dict[str, TestAuthority] = {}

    def build(base_url: str) -> ASGIApp:
        app, holder["authority"] = build_oauth_app(base_url)
        return app

    app_socket = bound_socket()
    public_url = f"http://127.0.0.1:{app_socket.getsockname()[1]}"
    async with (
        serve_asgi(build) as mcp_server,
        Harness.running(
            tmp_path / "data", policy=remote_policy(ports=[mcp_server.port]), plugboard_public_url=public_url
        ) as harness,
        serve_asgi(lambda _base: harness.app.asgi, app_socket),
        async_playwright() as playwright,
    ):
        alice = harness.user()
        mark = harness.slack.mark()
        await connect_and_confirm(alice, name="secured", url=mcp_server.url("/mcp"), transport="http", auth="oauth")
        link = button_url(await wait_dm(harness, lambda t: "Sign in to connect" in t, after=mark), "oauth_sign_in_link")
        assert link.startswith(f"{public_url}/oauth/start?state=")

        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            response = await page.goto(link)
            assert response is not None and response.status == 200
            assert "Connect secured" in await page.inner_text("h1")
            assert "127.0.0.1" in await page.inner_text("#continue")
            async with page.expect_navigation(url=f"{public_url}/oauth/callback?**", timeout=30_000) as landed:
                await page.click("#continue")
            final = await landed.value
            assert final is not None and final.status == 200
            assert (await final.all_headers())["cache-control"] == "no-store"
            assert "Connected secured" in await page.inner_text("h1")
            assert "is connected. You can close this tab" in await page.inner_text("body")
        finally:
            await browser.close()

        connected = await wait_dm(harness, lambda t: "Connected `secured`" in t, after=mark)
        assert "2 tools" in text_of(connected)
        assert holder["authority"].grants["authorization_code"] == 1
