"""The client under test for the MCP conformance suite (`@modelcontextprotocol/conformance`, client mode).

    python -m tests.conformance.conformance_client <server-url>        # the suite appends the URL as the last argument

It drives Plugboard's own remote-connector path, wired by `app.wiring.build_core` as the app is, minus Slack:

- the server is proposed and confirmed through `ServerService` (SQLite in a temp dir, secrets in a `SecretBox`),
  which starts a `ServerActor` through `SessionManager` and `RemoteLauncher`;
- every HTTP request (MCP traffic, OAuth discovery/registration/token calls, the "browser") goes through the
  egress guard's httpx2 client with a development policy: plain http to loopback, any port;
- OAuth servers are signed in by `ConnectorService.start_authorization` (our `OAuthClientProvider`s, our
  `OAuthCredentialStore`, our `OAuthFlows`), exactly as after the owner confirms in Slack. The "owner" here is a
  headless browser: it opens our /oauth/start page (the real Starlette route, in process), GETs the
  authorization URL without following redirects (the mock authorization server approves at once), and brings
  code/state/iss from the 302 `Location` back to our /oauth/callback route;
- tools are called with `SessionManager.call_tool`.

Harness-only pieces: the suite's mock servers live at `http://localhost:<port>`, and our URL policy deliberately
never allows plain http to a *name* (only to loopback IP literals), so a request hook re-targets `localhost` to
`127.0.0.1` before the guard vets the request (the Host header keeps `localhost`, so the servers' metadata still
matches). Everything else is the production code path.

Environment (set by the suite): MCP_CONFORMANCE_SCENARIO, MCP_CONFORMANCE_PROTOCOL_VERSION (dated revisions up to
2025-11-25 connect with the legacy `initialize` handshake, 2026-07-28 with `auto`), MCP_CONFORMANCE_CONTEXT (JSON:
`client_id`/`client_secret` become a pre-registered `OAuthAuth`; `toolCalls` are replayed). Exit 0 when the
scenario's client side ran to the end; 1 (with the reason on stderr) when Plugboard refused or failed.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import logging
import os
import re
import secrets
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx2
import mcp_types as types
from mcp.client.client import ConnectMode
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette

from app.domain.owner import Owner
from app.domain.policy import Policy, ToolPolicy
from app.domain.remote_config import NoAuth, OAuthAuth, RemoteServerConfig
from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from app.runtime.launcher import DirectLauncher, ServerFolders
from app.runtime.remote_launcher import HttpClientFactory
from app.runtime.server_actor import ActorTimings, ClientOptions
from app.runtime.session_manager import SessionManager
from app.runtime.tool_registry import ToolRegistry
from app.security.crypto import Keyring, SecretBox
from app.security.egress import guarded_client_factory
from app.security.url_policy import EgressPolicy, check_url
from app.services.connector_service import ConnectorService
from app.services.oauth_flows import OAuthFlows
from app.services.server_gate import UrlCheck
from app.services.server_service import ServerService
from app.settings import Settings
from app.web.oauth_pages import COOKIE, oauth_routes
from app.wiring import SESSION_RESPONSE_CAP, Core, CoreOverrides, build_core

log = logging.getLogger("tests.conformance.conformance_client")

# What the suite's auth/basic-cimd scenario expects as the client's CIMD URL (the mock AS never fetches it).
CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json"
PUBLIC_URL = "http://127.0.0.1:8787"  # only ever served in process (ASGI), never listened on
OWNER = Owner(team_id="TCONFORM", user_id="UCONFORM")
SERVER_NAME = "conformance"
# Stay inside the suite's per-scenario timeout (make conformance passes 60 s).
OVERALL_SECONDS = 50.0
TIMINGS = ActorTimings(connect_timeout=20.0, request_timeout=20.0, restart_backoff=0.5, max_failed_starts=3)
# Development egress policy: loopback only, plain http allowed there, any port (the mocks pick free ports).
POLICY = EgressPolicy(allowed_hosts=("127.0.0.0/8", "::1/128"), allow_http_loopback=True, allowed_ports=None)
LEGACY_REVISIONS = frozenset({"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class ScenarioFailed(Exception):
    """Plugboard could not do what the scenario asks; the message says why."""


# -- the harness-only localhost alias ------------------------------------------------------------------


def loopback_alias(url: str) -> str:
    """`http://localhost:N/...` -> `http://127.0.0.1:N/...`; anything else unchanged."""
    parts = urlsplit(url)
    if parts.hostname != "localhost":
        return url
    netloc = "127.0.0.1" + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit(parts._replace(netloc=netloc))


async def _alias_request(request: httpx2.Request) -> None:
    if request.url.host == "localhost":
        request.url = request.url.copy_with(host="127.0.0.1")


def aliasing_factory(policy: EgressPolicy) -> HttpClientFactory:
    guarded = guarded_client_factory(policy, max_response_bytes=SESSION_RESPONSE_CAP)

    def factory(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        client = guarded(headers=headers, timeout=timeout, auth=auth)
        client.event_hooks["request"].append(_alias_request)
        return client

    return factory


def aliasing_check(policy: EgressPolicy) -> UrlCheck:
    def check(url: str) -> None:
        check_url(loopback_alias(url), policy)  # raises UrlRefused (a ValueError) with the reason

    return check


# -- elicitation: accept with the schema's defaults (SEP-1034) -----------------------------------------


async def accept_with_defaults(
    context: ClientRequestContext, params: types.ElicitRequestParams
) -> types.ElicitResult | types.ErrorData:
    content: dict[str, Any] = {}
    if isinstance(params, types.ElicitRequestFormParams):
        properties = params.requested_schema.get("properties", {})
        for name, schema in properties.items():
            if isinstance(schema, dict) and "default" in schema:
                content[name] = schema["default"]
    return types.ElicitResult(action="accept", content=content)


# -- the owner: a headless browser and a Slack DM inbox ----------------------------------------------------


@dataclass
class HeadlessOwner:
    """Implements `ConnectorNotifier`: what would be Slack DMs to the owner, and the owner's browser."""

    flows: OAuthFlows
    pages: Starlette
    factory: HttpClientFactory
    outcome: asyncio.Future[tuple[ServerStatus | None, str | None]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    reauth_requests: int = 0
    browsers: set[asyncio.Task[None]] = field(default_factory=set)

    async def sign_in_link(self, record: ServerRecord, start_url: str, authorization_host: str) -> None:
        # The owner clicks the DM's Connect button; the flow goes on while the browser works.
        task = asyncio.create_task(self._browse(start_url), name="conformance-browser")
        self.browsers.add(task)
        task.add_done_callback(self.browsers.discard)

    async def connected(self, record: ServerRecord, status: ServerStatus, tool_names: list[str]) -> None:
        log.info("connected: %s, tools %s", status.label(), tool_names)
        if not self.outcome.done():
            self.outcome.set_result((status, None))

    async def failed(self, record: ServerRecord, reason: str) -> None:
        log.info("sign-in failed: %s", reason)
        if not self.outcome.done():
            self.outcome.set_result((None, reason))

    async def reauth_needed(self, record: ServerRecord) -> None:
        self.reauth_requests += 1
        log.info("re-authentication needed (DM #%d)", self.reauth_requests)

    async def _browse(self, start_url: str) -> None:
        try:
            await self._follow_sign_in(start_url)
        except Exception as exc:  # boundary: a broken browser must end the scenario now, not at its timeout
            log.exception("the headless browser failed")
            if not self.outcome.done():
                self.outcome.set_result((None, f"the headless browser failed: {exc!r}"))

    async def _follow_sign_in(self, start_url: str) -> None:
        state = parse_qs(urlsplit(start_url).query).get("state", [""])[0]
        transport = httpx2.ASGITransport(app=self.pages)
        async with (
            httpx2.AsyncClient(transport=transport, base_url=PUBLIC_URL) as ours,
            self.factory() as web,
        ):
            start = await ours.get(start_url)
            browser_key = start.cookies.get(COOKIE, "")
            cookie = {"Cookie": f"{COOKIE}={browser_key}"}
            found = re.search(r"id='continue' href='([^']*)'", start.text)
            if start.status_code != 200 or found is None:
                raise ScenarioFailed(f"our /oauth/start page answered HTTP {start.status_code}")
            authorization_url = html.unescape(found.group(1))
            callback = f"{self.flows.redirect_uri}?" + urlencode({"state": state, "error": "access_denied"})
            try:
                answer = await web.get(authorization_url)
                location = answer.headers.get("location", "")
                if answer.status_code in REDIRECT_STATUSES and location.startswith(self.flows.redirect_uri + "?"):
                    callback = location
                else:
                    log.error("the authorization server answered HTTP %s, Location %r", answer.status_code, location)
            except httpx2.HTTPError as exc:
                log.error("the browser could not open the authorization URL: %r", exc)
            done = await ours.get(callback, headers=cookie)
            log.info("our /oauth/callback page: HTTP %s", done.status_code)


# -- wiring (app.wiring.build_core, with the harness's pieces) ---------------------------------------------------


@dataclass
class Harness:
    core: Core
    owner: HeadlessOwner

    @property
    def servers(self) -> ServerService:
        return self.core.servers

    @property
    def sessions(self) -> SessionManager:
        return self.core.sessions

    @property
    def registry(self) -> ToolRegistry:
        return self.core.registry

    @property
    def connectors(self) -> ConnectorService:
        return self.core.connectors

    @classmethod
    async def build(cls, data_dir: Path, mode: ConnectMode) -> Harness:
        factory = aliasing_factory(POLICY)
        settings = Settings(  # nothing from .env or a policy file: the harness states what it needs
            _env_file=None,
            plugboard_data_dir=data_dir,
            plugboard_public_url=PUBLIC_URL,
            plugboard_policy_file=None,
            plugboard_admin_servers_file=None,
        )
        overrides = CoreOverrides(
            # No denylist: the suite's tools are called whatever their names.
            policy=Policy(tools=ToolPolicy(denylist=())),
            box=SecretBox(Keyring.parse("k1:" + base64.b64encode(secrets.token_bytes(32)).decode())),
            local_launcher=DirectLauncher(ServerFolders(data_dir)),  # never used: the suite's servers are remote
            http_client_factory=factory,
            url_check=aliasing_check(POLICY),
            timings=TIMINGS,
            client_options=ClientOptions(mode=mode, elicitation_callback=accept_with_defaults),
            client_metadata_url=CLIENT_METADATA_URL,
        )
        core = await build_core(settings, overrides)
        flows = core.flows
        owner = HeadlessOwner(flows, Starlette(routes=oauth_routes(flows, secure_cookie=False)), factory)
        core.connectors.notify_with(owner)
        return cls(core, owner)

    async def close(self) -> None:
        await self.core.close()
        for task in list(self.owner.browsers):
            task.cancel()

    async def connect(self, url: str, auth: NoAuth | OAuthAuth) -> ServerRecord:
        """Add the server as an owner would (propose, confirm), sign in if it uses OAuth, wait until ready."""
        config = RemoteServerConfig(url=url, transport="auto", auth=auth)
        change = await self.servers.propose_add(OWNER, SERVER_NAME, config)
        record = await self.servers.confirm(OWNER, change.id)
        if isinstance(auth, OAuthAuth):
            self.connectors.start_authorization(record)  # what ConfirmFlow does for OAuth servers
            status, problem = await self.owner.outcome
            if problem is not None:
                raise ScenarioFailed(f"sign-in failed: {problem}")
            assert status is not None
        else:
            status = await self.servers.wait_settled(record.id, TIMINGS.connect_timeout + 5)
        if status.state != "ready":
            raise ScenarioFailed(f"the server is not ready: {status.label()}")
        return record

    def tool_names(self, record: ServerRecord) -> list[str]:
        return [t.tool.name for t in self.registry.for_server(OWNER, record.id, include_disabled=True)]

    async def call(self, record: ServerRecord, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        try:
            result = await self.sessions.call_tool(record.id, name, arguments)
        except MCPError as exc:
            status = self.sessions.status(record.id).label()
            problem = f"calling {name} failed: MCP error {exc.code}: {exc.message} (server {status})"
            raise ScenarioFailed(problem) from exc
        log.info("%s -> is_error=%s %s", name, result.is_error, _text(result)[:200])
        return result


def _text(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


# -- scenarios --------------------------------------------------------------------------------------------------


def scenario_auth(scenario: str, context: dict[str, Any]) -> NoAuth | OAuthAuth:
    if not scenario.startswith("auth/"):
        return NoAuth()
    client_id = context.get("client_id")
    client_secret = context.get("client_secret")
    return OAuthAuth(
        client_id=str(client_id) if client_id else None, client_secret=str(client_secret) if client_secret else None
    )


def tool_calls(context: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    calls = context.get("toolCalls")
    if not isinstance(calls, list):
        return []
    return [(str(c["name"]), dict(c.get("arguments") or {})) for c in calls if isinstance(c, dict) and "name" in c]


async def run_scenario(harness: Harness, url: str, scenario: str, context: dict[str, Any]) -> None:
    record = await harness.connect(url, scenario_auth(scenario, context))
    listed = harness.tool_names(record)
    log.info("tools: %s", listed)
    if scenario == "initialize" or scenario == "request-metadata" or scenario == "json-schema-ref-no-deref":
        return  # connecting and listing is the whole client side
    if scenario == "tools_call":
        await harness.call(record, "add_numbers", {"a": 5, "b": 3})
    elif scenario == "elicitation-sep1034-client-defaults":
        await harness.call(record, "test_client_elicitation_defaults", {})
    elif scenario == "sse-retry":
        await harness.call(record, "test_reconnection", {})
    elif calls := tool_calls(context):  # e.g. http-custom-headers dictates its calls
        for name, arguments in calls:
            await harness.call(record, name, arguments)
    elif scenario == "json-schema-2020-12-preservation":
        await _round_trip_schema(harness, record)
    elif scenario.startswith("auth/"):
        if listed:
            await harness.call(record, listed[0], {})
    else:  # http-standard-headers, http-invalid-tool-headers, sep-2322-*: every tool that survived listing
        for name in listed:
            await harness.call(record, name, {})


async def _round_trip_schema(harness: Harness, record: ServerRecord) -> None:
    tools = harness.registry.for_server(OWNER, record.id, include_disabled=True)
    echo = next((t for t in tools if "echo" in t.tool.name), None)
    focal = next((t for t in tools if t is not echo), None)
    if echo is None or focal is None:
        raise ScenarioFailed(f"expected a focal tool and an echo tool, got {[t.tool.name for t in tools]}")
    await harness.call(record, echo.tool.name, {"schema": focal.tool.input_schema})


async def main_async(url: str, scenario: str, revision: str, context: dict[str, Any]) -> int:
    mode: ConnectMode = "legacy" if revision in LEGACY_REVISIONS else "auto"
    log.info("scenario %r at %r (mode %s) against %s", scenario, revision or "default", mode, url)
    with tempfile.TemporaryDirectory(prefix="plugboard-conformance-") as tmp:
        harness = await Harness.build(Path(tmp), mode)
        try:
            async with asyncio.timeout(OVERALL_SECONDS):
                await run_scenario(harness, url, scenario, context)
        except (ScenarioFailed, TimeoutError) as exc:
            print(f"conformance client: {scenario}: {exc or 'timed out'}", file=sys.stderr)
            return 1
        finally:
            await harness.close()
    return 0


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if len(argv) < 2:
        print("usage: python -m tests.conformance.conformance_client <server-url>", file=sys.stderr)
        return 2
    raw_context = os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}"
    try:
        context = json.loads(raw_context)
    except json.JSONDecodeError:
        print("MCP_CONFORMANCE_CONTEXT is not JSON", file=sys.stderr)
        return 2
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "initialize")
    revision = os.environ.get("MCP_CONFORMANCE_PROTOCOL_VERSION", "")
    return asyncio.run(main_async(argv[-1], scenario, revision, context if isinstance(context, dict) else {}))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
