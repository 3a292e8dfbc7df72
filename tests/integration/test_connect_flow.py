"""`/mcp connect` end to end with real remote servers on loopback: server-everything over streamable HTTP and
SSE, and an API-key-protected MCP server."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from starlette.types import ASGIApp

from app.domain.owner import Owner
from tests.servers.api_key_server import SeenRequests, build_api_key_app
from tests.support.canary import running_canary
from tests.support.connectors import (
    connect_and_confirm,
    everything_sent,
    field_errors,
    final_report,
    open_connect,
    remote_policy,
    submit_connect,
)
from tests.support.flows import DONE, finished, needs_attention
from tests.support.harness import Harness, text_of
from tests.support.loopback import running_everything, serve_asgi
from tests.support.slack_payloads import TEAM_ID, USER_ID

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id=TEAM_ID, user_id=USER_ID)


def mirror(harness: Harness) -> dict[str, object]:
    path = harness.data_dir / "users" / ALICE.id / "mcp_remote.json"
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


@pytest.mark.slow
async def test_server_everything_over_streamable_http_is_connected_used_listed_disabled_enabled_and_removed(
    tmp_path: Path,
) -> None:
    async with (
        running_everything("streamableHttp", tmp_path) as everything,
        Harness.running(tmp_path / "data", policy=remote_policy()) as harness,
    ):
        alice = harness.user()
        view = await open_connect(alice)
        response = await submit_connect(
            alice, view, name="everything", url=everything.endpoint, transport="http", auth="none"
        )
        assert field_errors(response) == {}
        message = await alice.reply()
        confirmation = text_of(message)
        assert everything.endpoint in confirmation
        assert "host `127.0.0.1`" in confirmation
        assert "*Transport:* streamable HTTP" in confirmation
        assert "*Authentication:* no authentication" in confirmation
        assert not harness.app.sessions.is_live("everything")

        await alice.click(message, "change_confirm")
        done = await final_report(alice)
        assert "`everything`: ready — " in done and "`echo`" in done, done

        await alice.command('call everything echo {"message":"hi"}')
        assert "Echo: hi" in text_of(await alice.reply())

        await alice.command("list")
        listed = text_of(await alice.reply())
        assert "everything" in listed and everything.endpoint in listed, listed

        assert mirror(harness) == {"mcpServers": {"everything": {"type": "http", "url": everything.endpoint}}}

        await alice.command("disable everything")
        assert "disabled" in text_of(await alice.reply())
        await alice.command('call everything echo {"message":"hi"}')
        assert "Echo: hi" not in text_of(await alice.reply())

        await alice.command("enable everything")
        assert "`everything`: ready" in await final_report(alice)
        await alice.command('call everything echo {"message":"again"}')
        assert "Echo: again" in text_of(await alice.reply())

        await alice.command("remove everything")
        prompt = await alice.reply()
        await alice.click(prompt, "remove_confirm")
        assert "removed" in text_of(await alice.reply()).lower()
        assert mirror(harness) == {"mcpServers": {}}
        assert harness.app.tools.tools(ALICE) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("transport", "shown"),
    [("sse", "*Transport:* SSE"), ("auto", "*Transport:* streamable HTTP, falling back to SSE")],
)
async def test_an_sse_only_server_connects_over_sse_when_chosen_and_when_auto_falls_back(
    tmp_path: Path, transport: str, shown: str
) -> None:
    async with (
        running_everything("sse", tmp_path) as everything,
        Harness.running(tmp_path / "data", policy=remote_policy()) as harness,
    ):
        alice = harness.user()
        confirmation = await connect_and_confirm(
            alice, name="legacy", url=everything.endpoint, transport=transport, auth="none"
        )
        assert shown in text_of(confirmation)
        done = await final_report(alice)
        assert "`legacy`: ready — " in done and "`echo`" in done, done

        await alice.command('call legacy echo {"message":"over sse"}')
        assert "Echo: over sse" in text_of(await alice.reply())
        entry = (
            {"type": "sse", "url": everything.endpoint}
            if transport == "sse"
            else {"type": "http", "url": everything.endpoint, "fallback": "sse"}
        )
        assert mirror(harness) == {"mcpServers": {"legacy": entry}}


API_KEY = "pk_live_0123456789abcdefSECRET"


@pytest.mark.parametrize(("header", "arrives_as"), [("X-API-Key", "x-api-key"), ("", "authorization")])
async def test_an_api_key_server_refuses_a_wrong_key_with_a_clear_error_and_accepts_the_right_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, header: str, arrives_as: str
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_key = "pk_live_wrong_key_XYZ987"
    shown_header = header or "Authorization"  # left empty: the default, sent as `Bearer <key>`
    holder: dict[str, SeenRequests] = {}

    def build(base_url: str) -> ASGIApp:
        app, holder["seen"] = build_api_key_app(API_KEY)
        return app

    async with (
        serve_asgi(build) as server,
        Harness.running(tmp_path / "data", policy=remote_policy(ports=[server.port])) as harness,
    ):
        alice = harness.user()
        url = server.url("/mcp")
        key_form = {"transport": "http", "auth": "api_key", "api_header": header or None}
        confirmation = await connect_and_confirm(alice, name="keyed", url=url, api_value=wrong_key, **key_form)
        assert f"API key in `{shown_header}`" in text_of(confirmation)
        assert wrong_key not in json.dumps(confirmation)
        done = await final_report(alice)
        expected = f"`keyed`: error — the server refused the API key in `{shown_header}` (HTTP 401); check the key"
        assert expected in done, done

        view = await alice.open_modal("edit keyed")
        assert wrong_key not in json.dumps(view)  # the stored key is never sent back into a form
        response = await submit_connect(alice, view, name=None, url=url, api_value=API_KEY, **key_form)
        assert field_errors(response) == {}
        change = await alice.reply()
        await alice.click(change, "change_confirm")
        done = await final_report(alice)
        assert "`keyed`: ready — 2 tools" in done, done

        await alice.command('call keyed add {"a": 2, "b": 40}')
        assert "42" in text_of(await alice.reply())

        presented = {h.get(arrives_as, "").removeprefix("Bearer ") for h in holder["seen"].headers}
        assert API_KEY in presented and wrong_key in presented
        assert mirror(harness) == {
            "mcpServers": {"keyed": {"type": "http", "url": url, "headers": {shown_header: "${secret:api_key}"}}}
        }
        sent = everything_sent(harness)
        logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records) + caplog.text
        stored = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
        for secret in (API_KEY, wrong_key):
            assert secret not in sent
            assert secret not in logged
            assert secret.encode() not in stored  # mirror files, audit log, database: encrypted or absent


async def test_a_wrong_api_key_ends_with_what_to_do_and_a_button_that_reopens_the_form_to_re_enter_the_key(
    tmp_path: Path,
) -> None:
    def build(base_url: str) -> ASGIApp:
        app, _ = build_api_key_app(API_KEY)
        return app

    async with (
        serve_asgi(build) as server,
        Harness.running(tmp_path / "data", policy=remote_policy(ports=[server.port])) as harness,
    ):
        alice = harness.user()
        url = server.url("/mcp")
        key_form = {"transport": "http", "auth": "api_key", "api_header": "X-API-Key"}
        await connect_and_confirm(alice, name="keyed", url=url, api_value="pk_live_wrong_key_XYZ987", **key_form)
        report = await alice.reply(needs_attention)
        shown = text_of(report)
        assert "(HTTP 401); check the key" in shown, shown
        assert DONE not in shown, shown
        assert shown.rstrip().endswith(
            "Re-enter the API key of `keyed` (or change its URL): press *Re-enter API key*."
        ), shown

        mark = harness.slack.mark()
        await alice.click(report, "server_fix")
        opened = await harness.slack.wait_for("views.open", after=mark)
        assert opened.ok and opened.response is not None, opened.error
        view = opened.response["view"]
        assert view["callback_id"] == "server_connect"
        response = await submit_connect(alice, view, name=None, url=url, api_value=API_KEY, **key_form)
        assert field_errors(response) == {}
        await alice.click(await alice.reply(), "change_confirm")
        fixed = text_of(await alice.reply(finished))
        assert "`keyed`: ready — 2 tools" in fixed and DONE in fixed, fixed


async def test_proxy_environment_variables_are_ignored_for_remote_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder: dict[str, SeenRequests] = {}

    def build(base_url: str) -> ASGIApp:
        app, holder["seen"] = build_api_key_app(API_KEY)
        return app

    async with running_canary() as proxy, serve_asgi(build) as server:
        async with Harness.running(tmp_path / "data", policy=remote_policy(ports=[server.port])) as harness:
            # ALL_PROXY is honoured by any httpx2 client that trusts the environment (HTTP(S)_PROXY would also
            # reroute the Slack SDK, which is the operator's business); set after the test's own clients exist.
            monkeypatch.setenv("ALL_PROXY", proxy.url("/"))
            monkeypatch.setenv("all_proxy", proxy.url("/"))
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
            alice = harness.user()
            await connect_and_confirm(
                alice, name="direct", url=server.url("/mcp"), transport="http", auth="api_key", api_value=API_KEY
            )
            assert "`direct`: ready — 2 tools" in await final_report(alice)
        assert holder["seen"].headers
        assert proxy.untouched  # the key never went through a proxy taken from the environment
