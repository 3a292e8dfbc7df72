"""The egress guard end to end, on real loopback sockets (security.md §4 items 14-23).

Hostile targets are aimed at a recording canary server. Most clients here dial through `Tripwire`, which sends
every connection to a loopback canary whatever address it was asked for and records that address: if the guard
ever let a hostile address through, the attempt would land on the canary instead of leaving this machine.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpcore2
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from app.security.egress import (
    EgressRefused,
    ResponseTooLarge,
    guarded_client_factory,
    make_guarded_client,
)
from app.security.url_policy import EgressPolicy, Refusal
from tests.support.canary import Canary, Recorded, Responder, make_tls_pair, ok, redirect, running_canary

pytestmark = pytest.mark.anyio

# Loopback is NOT allowed; any port, so each refusal is about the host, not the port.
BLOCKING = EgressPolicy(allowed_ports=None)
# What a dev build or a test uses to reach servers on this machine.
LOOPBACK = EgressPolicy(allowed_hosts=("127.0.0.0/8",), allow_http_loopback=True, allowed_ports=None)


class Tripwire(httpcore2.AsyncNetworkBackend):
    """Records the address each connection was meant for; connects to loopback, to `sink_port` if not loopback."""

    def __init__(self, sink_port: int) -> None:
        self.sink_port = sink_port
        self.dials: list[tuple[str, int]] = []
        self._real = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        self.dials.append((host, port))
        target = (host, port) if host == "127.0.0.1" else ("127.0.0.1", self.sink_port)
        return await self._real.connect_tcp(*target, timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class FakeDns:
    """Answers each lookup with the next scripted answer (the last one repeats); records the names asked."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self._answers = list(answers)
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        answer = self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]
        return list(answer)


@pytest.fixture
async def canary() -> AsyncIterator[Canary]:
    async with running_canary() as running:
        yield running


def refusal_of(exc: BaseException) -> EgressRefused:
    """The EgressRefused inside an exception, its cause chain or (nested) exception groups."""
    pending = [exc]
    while pending:
        current = pending.pop()
        if isinstance(current, EgressRefused):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
    raise AssertionError(f"no EgressRefused in {exc!r}")


# --- hostile targets (items 14-17, 21), with loopback not allowed --------------------------------------------

HOSTILE_URLS = [
    ("http://169.254.169.254/latest/meta-data/", Refusal.BLOCKED_ADDRESS),
    ("http://[fd00:ec2::254]/latest/meta-data/", Refusal.BLOCKED_ADDRESS),
    ("https://metadata.google.internal/computeMetadata/v1/", Refusal.BLOCKED_NAME),
    ("http://localhost:{port}/", Refusal.BLOCKED_NAME),
    ("http://127.0.0.1:{port}/", Refusal.BLOCKED_ADDRESS),
    ("http://0.0.0.0:{port}/", Refusal.BLOCKED_ADDRESS),
    ("http://[::]:{port}/", Refusal.BLOCKED_ADDRESS),
    ("http://[::1]:{port}/", Refusal.BLOCKED_ADDRESS),
    ("http://2130706433:{port}/", Refusal.OBFUSCATED_IP),
    ("http://0x7f.1:{port}/", Refusal.OBFUSCATED_IP),
    ("http://127.1:{port}/", Refusal.OBFUSCATED_IP),
    ("http://[::ffff:127.0.0.1]:{port}/", Refusal.BLOCKED_ADDRESS),
    ("http://[64:ff9b::a9fe:a9fe]/", Refusal.BLOCKED_ADDRESS),
    ("http://[2002:a9fe:a9fe::]/", Refusal.BLOCKED_ADDRESS),
    ("https://10.0.0.1/", Refusal.BLOCKED_ADDRESS),
    ("https://172.16.0.1/", Refusal.BLOCKED_ADDRESS),
    ("https://192.168.0.1/", Refusal.BLOCKED_ADDRESS),
    ("https://100.64.0.1/", Refusal.BLOCKED_ADDRESS),
    ("https://[fc00::1]/", Refusal.BLOCKED_ADDRESS),
    ("http://[fe80::1%25eth0]/", Refusal.HOST_SYNTAX),
    ("https://224.0.0.1/", Refusal.BLOCKED_ADDRESS),
    ("https://[ff02::1]/", Refusal.BLOCKED_ADDRESS),
    ("http://mcp.example.com/", Refusal.PLAIN_HTTP),
    ("https://user:pass@mcp.example.com/", Refusal.USERINFO),
    ("https://mcp.example.com/#frag", Refusal.FRAGMENT),
    ("https://" + "a" * 300 + ".example.com/", Refusal.HOST_LENGTH),
    ("file:///etc/passwd", Refusal.SCHEME),
    ("gopher://127.0.0.1:{port}/_INFO", Refusal.SCHEME),
]


@pytest.mark.parametrize(("template", "code"), HOSTILE_URLS)
async def test_hostile_target_is_refused_and_nothing_reaches_the_network(
    canary: Canary, template: str, code: Refusal
) -> None:
    tripwire = Tripwire(canary.port)
    async with make_guarded_client(BLOCKING, dialer=tripwire) as client:
        with pytest.raises(EgressRefused) as caught:
            await client.get(template.format(port=canary.port))
    assert caught.value.code == code
    assert caught.value.reason
    assert tripwire.dials == []
    assert canary.untouched


async def test_octal_ip_is_refused_by_the_url_parser_before_the_guard(canary: Canary) -> None:
    # httpx2 itself rejects `0177.0.0.1`; check_url has its own refusal (unit tests) for the add-time path.
    async with make_guarded_client(BLOCKING, dialer=Tripwire(canary.port)) as client:
        with pytest.raises(httpx2.InvalidURL):
            await client.get(f"http://0177.0.0.1:{canary.port}/")
    assert canary.untouched


# --- what a name resolves to (items 18, 19) -----------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        ["127.0.0.1"],
        ["10.0.0.7"],
        ["169.254.169.254"],
        ["93.184.216.34", "10.0.0.7"],  # one public A plus one private A
        ["10.0.0.7", "93.184.216.34"],
        ["2606:4700::1111", "::1"],
        ["::ffff:169.254.169.254"],
        ["not-an-address"],
    ],
)
async def test_name_resolving_to_any_blocked_address_is_refused_before_dialing(
    canary: Canary, answer: list[str]
) -> None:
    tripwire = Tripwire(canary.port)
    dns = FakeDns(answer)
    async with make_guarded_client(BLOCKING, resolver=dns, dialer=tripwire) as client:
        with pytest.raises(EgressRefused) as caught:
            await client.get(f"https://wildcard.example:{canary.port}/")
    assert caught.value.code == Refusal.BLOCKED_ADDRESS
    assert dns.lookups == ["wildcard.example"]
    assert tripwire.dials == []
    assert canary.untouched


async def test_name_that_does_not_resolve_is_a_connect_error_not_a_refusal(canary: Canary) -> None:
    async with make_guarded_client(BLOCKING, resolver=FakeDns([]), dialer=Tripwire(canary.port)) as client:
        with pytest.raises(httpx2.ConnectError) as caught:
            await client.get("https://nowhere.example/")
    assert not isinstance(caught.value, EgressRefused)
    assert canary.untouched


async def test_dns_rebinding_cannot_redirect_the_dial_to_a_later_answer() -> None:
    tls = make_tls_pair("rebind.example")
    async with running_canary(ssl_context=tls.server) as canary:
        tripwire = Tripwire(canary.port)
        # First lookup: an allowed address; every later one: the metadata service.
        dns = FakeDns(["127.0.0.1"], ["169.254.169.254"])
        async with make_guarded_client(LOOPBACK, resolver=dns, dialer=tripwire, verify=tls.client) as client:
            url = f"https://rebind.example:{canary.port}/"
            first = await client.get(url)
            # The canary closes each connection, so the next request needs a new connection and a new lookup.
            with pytest.raises(EgressRefused) as caught:
                await client.get(url)
    assert first.status_code == 200
    assert dns.lookups == ["rebind.example", "rebind.example"]  # exactly one lookup per connection
    assert tripwire.dials == [("127.0.0.1", canary.port)]  # the vetted IP, never the name
    assert caught.value.code == Refusal.BLOCKED_ADDRESS
    assert len(canary.requests) == 1


async def test_tls_dials_the_vetted_ip_but_sends_sni_and_verifies_the_certificate_for_the_name() -> None:
    tls = make_tls_pair("mcp.canary.example")
    async with running_canary(ssl_context=tls.server) as canary:
        tripwire = Tripwire(canary.port)
        dns = FakeDns(["127.0.0.1"])
        async with make_guarded_client(LOOPBACK, resolver=dns, dialer=tripwire, verify=tls.client) as client:
            response = await client.get(f"https://mcp.canary.example:{canary.port}/hello")
    assert response.status_code == 200
    assert tripwire.dials == [("127.0.0.1", canary.port)]
    assert canary.sni_names == ["mcp.canary.example"]
    assert canary.requests[0].headers["host"] == f"mcp.canary.example:{canary.port}"


async def test_certificate_for_another_name_fails_verification() -> None:
    tls = make_tls_pair("other.example")
    async with (
        running_canary(ssl_context=tls.server) as canary,
        make_guarded_client(LOOPBACK, resolver=FakeDns(["127.0.0.1"]), verify=tls.client) as client,
    ):
        with pytest.raises(httpx2.ConnectError) as caught:
            await client.get(f"https://mcp.canary.example:{canary.port}/")
    assert not isinstance(caught.value, EgressRefused)
    assert canary.requests == []


async def test_when_a_vetted_address_refuses_the_connection_the_next_vetted_address_is_tried() -> None:
    tls = make_tls_pair("two.example")
    async with running_canary(ssl_context=tls.server) as canary:
        # Nothing listens on 127.0.0.2:<port>, so that connection is refused and 127.0.0.1 is tried next.
        dns = FakeDns(["127.0.0.2", "127.0.0.1"])
        async with make_guarded_client(LOOPBACK, resolver=dns, verify=tls.client) as client:
            response = await client.get(f"https://two.example:{canary.port}/")
    assert response.status_code == 200
    assert canary.sni_names == ["two.example"]


async def test_default_resolver_is_the_system_resolver_and_its_answers_are_vetted() -> None:
    tls = make_tls_pair("localhost")
    async with running_canary(ssl_context=tls.server) as canary:
        url = f"https://localhost:{canary.port}/"
        # An admin-allowed name may resolve to loopback (/etc/hosts: 127.0.0.1 and perhaps ::1).
        allowed = EgressPolicy(allowed_hosts=("localhost",), allowed_ports=None)
        async with make_guarded_client(allowed, verify=tls.client) as client:
            response = await client.get(url)
        # Allowing 127.0.0.0/8 does not make the *name* allowed: it is refused before resolution.
        async with make_guarded_client(LOOPBACK, verify=tls.client) as client:
            with pytest.raises(EgressRefused) as caught:
                await client.get(url)
    assert response.status_code == 200
    assert caught.value.code == Refusal.BLOCKED_NAME
    assert len(canary.requests) == 1


# --- allowed loopback works, so the guard is not just refusing everything -----------------------------------


async def test_allowed_loopback_request_reaches_the_canary(canary: Canary) -> None:
    async with make_guarded_client(LOOPBACK, headers={"X-Api-Key": "k"}) as client:
        response = await client.get(canary.url("/hello"))
    assert response.status_code == 200
    assert response.text == "canary"
    [request] = canary.requests
    assert request.target == "/hello"
    assert request.headers["x-api-key"] == "k"
    assert request.headers["accept-encoding"] == "identity"


async def test_allowed_loopback_is_still_refused_on_a_port_outside_the_allowlist(canary: Canary) -> None:
    policy = EgressPolicy(allowed_hosts=("127.0.0.0/8",), allow_http_loopback=True, allowed_ports=(443,))
    async with make_guarded_client(policy) as client:
        with pytest.raises(EgressRefused) as caught:
            await client.get(canary.url())
    assert caught.value.code == Refusal.PORT
    assert canary.untouched


# --- redirects (item 20) -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "code"),
    [
        ("http://169.254.169.254/latest/meta-data/", Refusal.BLOCKED_ADDRESS),
        ("http://10.0.0.1/", Refusal.BLOCKED_ADDRESS),
        ("file:///etc/passwd", Refusal.SCHEME),
        ("gopher://127.0.0.1:6379/_FLUSHALL", Refusal.SCHEME),
        ("http://localhost/", Refusal.BLOCKED_NAME),
        ("http://0x7f.1/", Refusal.OBFUSCATED_IP),
        ("http://public.example/", Refusal.PLAIN_HTTP),
        ("https://user:pass@public.example/", Refusal.USERINFO),
    ],
)
async def test_followed_redirect_to_a_disallowed_target_is_refused(location: str, code: Refusal) -> None:
    async with running_canary(lambda _request: redirect(location)) as canary:
        tripwire = Tripwire(canary.port)
        async with make_guarded_client(LOOPBACK, follow_redirects=True, dialer=tripwire) as client:
            with pytest.raises(EgressRefused) as caught:
                await client.get(canary.url("/start"))
    assert caught.value.code == code
    assert [r.target for r in canary.requests] == ["/start"]
    assert tripwire.dials == [("127.0.0.1", canary.port)]


async def test_redirects_are_not_followed_by_default() -> None:
    async with (
        running_canary(lambda _request: redirect("http://169.254.169.254/")) as canary,
        make_guarded_client(LOOPBACK) as client,
    ):
        response = await client.get(canary.url())
    assert response.status_code == 302
    assert len(canary.requests) == 1


async def test_redirect_chain_is_capped() -> None:
    def hop(request: Recorded) -> bytes:
        return redirect(f"/hop/{int(request.target.rsplit('/', 1)[-1]) + 1}")

    async with (
        running_canary(hop) as canary,
        make_guarded_client(LOOPBACK, follow_redirects=True, max_redirects=5) as client,
    ):
        with pytest.raises(httpx2.TooManyRedirects):
            await client.get(canary.url("/hop/0"))
    assert len(canary.requests) == 6  # the original request plus five followed hops


async def test_credentials_are_not_forwarded_on_a_cross_origin_redirect() -> None:
    client = make_guarded_client(
        LOOPBACK, headers={"X-Api-Key": "sekret"}, auth=httpx2.BasicAuth("u", "p"), follow_redirects=True
    )
    async with running_canary() as other, running_canary(lambda _r: redirect(other.url("/landed"))) as first, client:
        response = await client.get(first.url("/start"))
    assert response.status_code == 200
    assert first.requests[0].headers["x-api-key"] == "sekret"
    assert "authorization" in first.requests[0].headers
    [landed] = other.requests
    assert "x-api-key" not in landed.headers
    assert "authorization" not in landed.headers


async def test_credentials_survive_a_same_origin_redirect() -> None:
    def respond(request: Recorded) -> bytes:
        return redirect("/next") if request.target == "/start" else ok()

    client = make_guarded_client(LOOPBACK, headers={"X-Api-Key": "sekret"}, follow_redirects=True)
    async with running_canary(respond) as canary, client:
        await client.get(canary.url("/start"))
    assert [r.headers.get("x-api-key") for r in canary.requests] == ["sekret", "sekret"]


# --- environment proxies (item 22) ---------------------------------------------------------------------------


async def test_proxy_environment_variables_are_ignored(canary: Canary, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_canary() as proxy:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.setenv(name, proxy.url())
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        async with make_guarded_client(LOOPBACK) as client:
            response = await client.get(canary.url("/direct"))
        async with make_guarded_client(BLOCKING) as client:
            with pytest.raises(EgressRefused):
                await client.get("http://169.254.169.254/latest/meta-data/")
    assert response.status_code == 200
    assert [r.target for r in canary.requests] == ["/direct"]
    assert proxy.untouched


# --- response size cap ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        ok(b"x" * 2000),  # declared Content-Length over the cap
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 2000,  # undeclared, read until close
    ],
)
async def test_response_body_over_the_cap_is_refused(raw: bytes) -> None:
    client = make_guarded_client(LOOPBACK, max_response_bytes=1000)
    async with running_canary(lambda _request: raw) as canary, client:
        with pytest.raises(ResponseTooLarge):
            await client.get(canary.url())


# --- OAuth discovery, registration and token calls (item 23) -----------------------------------------------


class NoStoredTokens:
    async def get_tokens(self) -> OAuthToken | None:
        return None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        pass

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        pass


def json_response(status: int, payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload).encode()
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {len(body)}"
    return head.encode() + b"\r\n\r\n" + body


def oauth_server(internal: str) -> Responder:
    """An MCP server + authorization server on the canary, one of whose advertised URLs is internal."""
    endpoints = {
        "authorization_server": "http://10.0.0.1/",
        "registration_endpoint": "http://169.254.169.254/register",
        "token_endpoint": "http://[fd00:ec2::254]/token",
    }

    def url(kind: str, default: str) -> str:
        return endpoints[kind] if kind == internal else default

    def respond(request: Recorded) -> bytes:
        base = f"http://{request.headers['host']}"
        metadata_url = "http://169.254.169.254/prm" if internal == "resource_metadata" else f"{base}/prm"
        if request.target == "/mcp":
            challenge = f'WWW-Authenticate: Bearer resource_metadata="{metadata_url}"'
            return f"HTTP/1.1 401 Unauthorized\r\n{challenge}\r\nConnection: close\r\n\r\n".encode()
        if request.target == "/prm":
            return json_response(
                200, {"resource": f"{base}/mcp", "authorization_servers": [url("authorization_server", base)]}
            )
        if request.target == "/.well-known/oauth-authorization-server":
            return json_response(
                200,
                {
                    "issuer": base,
                    "authorization_endpoint": f"{base}/authorize",
                    "token_endpoint": url("token_endpoint", f"{base}/token"),
                    "registration_endpoint": url("registration_endpoint", f"{base}/register"),
                    "response_types_supported": ["code"],
                    "code_challenge_methods_supported": ["S256"],
                },
            )
        if request.target == "/register":
            return json_response(201, {**json.loads(request.body), "client_id": "test-client"})
        return b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"

    return respond


@pytest.mark.parametrize(
    ("internal", "code"),
    [
        ("resource_metadata", Refusal.BLOCKED_ADDRESS),
        ("authorization_server", Refusal.BLOCKED_ADDRESS),
        ("registration_endpoint", Refusal.BLOCKED_ADDRESS),
        ("token_endpoint", Refusal.BLOCKED_ADDRESS),
    ],
)
async def test_oauth_fetches_to_internal_endpoints_are_refused_by_the_same_transport(
    internal: str, code: Refusal
) -> None:
    async with running_canary(oauth_server(internal)) as canary:
        authorization_urls: list[str] = []

        async def redirect_handler(url: str) -> None:
            authorization_urls.append(url)

        async def callback_handler() -> AuthorizationCodeResult:
            [state] = parse_qs(urlsplit(authorization_urls[0]).query)["state"]
            return AuthorizationCodeResult(code="code", state=state)

        provider = OAuthClientProvider(
            server_url=canary.url("/mcp"),
            client_metadata=OAuthClientMetadata(client_name="Plugboard", redirect_uris=["https://app.example/cb"]),
            storage=NoStoredTokens(),
            redirect_handler=redirect_handler,
            callback_handler=callback_handler,
        )
        tripwire = Tripwire(canary.port)
        async with make_guarded_client(LOOPBACK, auth=provider, dialer=tripwire) as client:
            with anyio.fail_after(5), pytest.raises(EgressRefused) as caught:
                await client.post(canary.url("/mcp"), json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert caught.value.code == code
    assert {dial[0] for dial in tripwire.dials} == {"127.0.0.1"}
    assert {r.headers["host"] for r in canary.requests} == {f"127.0.0.1:{canary.port}"}


# --- as the MCP SDK's HTTP client ----------------------------------------------------------------------------


@asynccontextmanager
async def mcp_http_server(app_kind: str) -> AsyncIterator[tuple[str, list[str]]]:
    """A tiny MCPServer under uvicorn on 127.0.0.1:<ephemeral>; yields (base URL, paths of requests received)."""
    server = MCPServer("egress-test")

    @server.tool()
    def echo(message: str) -> str:
        """Return the message."""
        return message

    app = server.streamable_http_app() if app_kind == "streamable" else server.sse_app()
    hits: list[str] = []

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            hits.append(scope["path"])
        await app(scope, receive, send)

    # A socket we bind and listen on ourselves: connections queue until uvicorn serves, so no wait-for-ready.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    config = uvicorn.Config(counting, lifespan="on", log_level="warning", timeout_graceful_shutdown=2)
    runner = uvicorn.Server(config)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner.serve, [sock])
            try:
                yield f"http://127.0.0.1:{port}", hits
            finally:
                runner.should_exit = True
    finally:
        sock.close()


async def test_mcp_client_lists_tools_through_the_guard_when_loopback_is_allowed() -> None:
    async with mcp_http_server("streamable") as (base, hits):
        with anyio.fail_after(10):
            async with (
                make_guarded_client(LOOPBACK) as http,
                Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client,
            ):
                tools = await client.list_tools()
    assert [tool.name for tool in tools.tools] == ["echo"]
    assert hits


async def test_mcp_client_is_refused_and_the_server_sees_nothing_when_loopback_is_not_allowed() -> None:
    async with mcp_http_server("streamable") as (base, hits):
        with anyio.fail_after(10), pytest.raises(BaseException) as caught:
            async with (
                make_guarded_client(BLOCKING) as http,
                Client(streamable_http_client(f"{base}/mcp", http_client=http)),
            ):
                pass
    assert refusal_of(caught.value).code == Refusal.BLOCKED_ADDRESS
    assert hits == []


async def test_legacy_sse_client_goes_through_the_guard_via_the_client_factory() -> None:
    async with mcp_http_server("sse") as (base, hits):
        with anyio.fail_after(10):
            async with Client(
                sse_client(f"{base}/sse", httpx_client_factory=guarded_client_factory(LOOPBACK)), mode="legacy"
            ) as client:
                tools = await client.list_tools()
        assert [tool.name for tool in tools.tools] == ["echo"]
        hits.clear()
        with anyio.fail_after(10), pytest.raises(BaseException) as caught:
            async with Client(
                sse_client(f"{base}/sse", httpx_client_factory=guarded_client_factory(BLOCKING)), mode="legacy"
            ):
                pass
    assert refusal_of(caught.value).code == Refusal.BLOCKED_ADDRESS
    assert hits == []
