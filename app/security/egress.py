"""The one way Plugboard talks to remote hosts: an httpx2 client whose transport enforces the egress policy.

Every request (each redirect hop, each OAuth discovery/registration/token call made through the client) is
checked twice:

1. `GuardedTransport.handle_async_request` re-applies `check_url` to the request URL (scheme, userinfo,
   fragment, host syntax, blocked names, IP literals, port), so a redirect to `file:` or `http://` fails too.
2. Each new connection goes through `GuardedNetworkBackend.connect_tcp`, which resolves the host itself,
   refuses if ANY answer is disallowed, and dials the validated IP literal. httpcore2 still passes the URL's
   host name to `start_tls`, so SNI and certificate verification use the name, while a DNS answer that
   changes between check and connect (rebinding) is never consulted.

The client ignores proxy environment variables (`trust_env=False`): a proxy would resolve names itself.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Final, Protocol

import anyio
import httpcore2
import httpx2

from app.security.url_policy import EgressPolicy, IPAddress, Refusal, UrlRefused, address_refusal, check_url, parse_ip

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""`(host, port) -> IP address strings`; injectable so tests can fake DNS answers."""

DEFAULT_TIMEOUT: Final = httpx2.Timeout(30.0, read=300.0)  # the SDK's MCP defaults: SSE streams idle for long
DEFAULT_MAX_REDIRECTS: Final = 5
# httpx2 counts every round trip of an auth flow (the 401, protected-resource and authorization-server metadata
# discovery, registration, token request, the retried request) in the same history as redirect hops. A client
# with an OAuth provider gets this headroom on top of the redirect cap, or sign-ins with path-style issuers
# (`https://idp.example/tenant1`) die with TooManyRedirects.
AUTH_FLOW_STEPS: Final = 16
DEFAULT_MAX_RESPONSE_BYTES: Final = 16 * 1024 * 1024
# Headers that must not follow a redirect to another origin, on top of the caller's own client headers.
_CREDENTIAL_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie"})
_FIRST_ORIGIN: Final = "plugboard.first_origin"  # request extension; httpx2 copies extensions to redirect hops


class EgressRefused(httpx2.ConnectError):
    """The egress policy refused a request before any byte was sent; `reason` is user-facing."""

    def __init__(self, code: Refusal, reason: str, *, request: httpx2.Request | None = None) -> None:
        super().__init__(f"Refused by egress policy: {reason}", request=request)
        self.code = code
        self.reason = reason


class ResponseTooLarge(httpx2.ReadError):
    """A response body exceeded the client's cap."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the OS resolver in a worker thread (anyio's getaddrinfo), keeping the event loop free."""
    answers = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(sockaddr[0]) for *_, sockaddr in answers]


class GuardedNetworkBackend(httpcore2.AsyncNetworkBackend):
    """An httpcore2 network backend that only ever dials addresses the policy allows."""

    def __init__(
        self,
        policy: EgressPolicy,
        resolver: Resolver | None = None,
        dialer: httpcore2.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver or system_resolver
        self._dialer = dialer or httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        deadline = None if timeout is None else anyio.current_time() + timeout
        addresses = await self.vetted_addresses(host, port, timeout)
        *others, last = addresses  # never empty
        for ip in others:
            try:
                return await self._dial(ip, port, deadline, local_address, socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout):
                continue  # like getaddrinfo-based clients, fall through to the next (vetted) address
        return await self._dial(last, port, deadline, local_address, socket_options)

    async def _dial(
        self,
        ip: IPAddress,
        port: int,
        deadline: float | None,
        local_address: str | None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None,
    ) -> httpcore2.AsyncNetworkStream:
        # An IP literal, so the dialer has nothing left to resolve; TLS later gets the URL's host name for SNI.
        remaining = None if deadline is None else max(deadline - anyio.current_time(), 0.0)
        return await self._dialer.connect_tcp(
            str(ip), port, timeout=remaining, local_address=local_address, socket_options=socket_options
        )

    async def vetted_addresses(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        """Every address `host` resolves to, each checked; refuses if any one is disallowed.

        Raises:
            EgressRefused: an address is blocked (one bad answer among good ones is enough).
            httpcore2.ConnectError / ConnectTimeout: the name does not resolve (in time).
        """
        if parse_ip(host) is not None:
            answers: Sequence[str] = [host]
        else:
            try:
                with anyio.fail_after(timeout):
                    answers = await self._resolver(host, port)
            except TimeoutError:
                raise httpcore2.ConnectTimeout(f"Resolving {host} timed out.") from None
            except OSError as exc:
                raise httpcore2.ConnectError(f"Could not resolve {host}: {exc}") from exc
        if not answers:
            raise httpcore2.ConnectError(f"{host} has no addresses.")

        vetted: list[IPAddress] = []
        for answer in answers:
            ip = parse_ip(answer)
            if ip is None:
                raise EgressRefused(Refusal.BLOCKED_ADDRESS, f"{host} resolved to an unparseable address.")
            reason = address_refusal(host, ip, self._policy)
            if reason is not None:
                raise EgressRefused(Refusal.BLOCKED_ADDRESS, f"{host} resolves to {ip}, which is {reason}.")
            if ip not in vetted:
                vetted.append(ip)
        return vetted

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise EgressRefused(Refusal.SCHEME, "Unix sockets are not reachable through the egress guard.")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """`httpx2.AsyncHTTPTransport` on a connection pool that dials through `GuardedNetworkBackend`.

    We subclass for httpx2's request/response conversion and exception mapping, and swap in our own pool.
    """

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | None = None,
        limits: httpx2.Limits | None = None,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
        origin_bound_headers: Iterable[str] = (),
        dialer: httpcore2.AsyncNetworkBackend | None = None,
    ) -> None:
        limits = limits or httpx2.Limits(max_connections=100, max_keepalive_connections=20)
        ssl_context = verify if verify is not None else httpx2.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        # Fail closed if httpx2 ever stops keeping its pool in `_pool`: assigning a new attribute would leave
        # requests on an unguarded pool.
        if not isinstance(getattr(self, "_pool", None), httpcore2.AsyncConnectionPool):
            raise RuntimeError("httpx2.AsyncHTTPTransport internals changed; refusing to build an unguarded client")
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(policy, resolver, dialer),
        )
        self._policy = policy
        self._max_response_bytes = max_response_bytes
        self._origin_bound = _CREDENTIAL_HEADERS | {name.lower() for name in origin_bound_headers}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            check_url(str(request.url), self._policy)
        except UrlRefused as exc:
            raise EgressRefused(exc.code, exc.reason, request=request) from exc
        self._strip_credentials_across_origins(request)
        response = await super().handle_async_request(request)
        return await self._cap_body(request, response)

    def _strip_credentials_across_origins(self, request: httpx2.Request) -> None:
        # httpx2 drops Authorization on cross-origin redirects but keeps client headers such as an API key.
        origin = (request.url.scheme, request.url.host, request.url.port)
        first = request.extensions.setdefault(_FIRST_ORIGIN, origin)
        if first != origin:
            for name in self._origin_bound:
                request.headers.pop(name, None)

    async def _cap_body(self, request: httpx2.Request, response: httpx2.Response) -> httpx2.Response:
        limit = self._max_response_bytes
        # SSE streams are long-lived by design; the MCP SDK caps each event (max_sse_event_size) instead.
        if limit is None or response.headers.get("content-type", "").startswith("text/event-stream"):
            return response
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await response.aclose()
            raise ResponseTooLarge(f"Response of {declared} bytes exceeds the {limit}-byte cap.", request=request)
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        response.stream = _CappedStream(response.stream, limit, request)
        return response


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, limit: int, request: httpx2.Request) -> None:
        self._inner = inner
        self._limit = limit
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                raise ResponseTooLarge(f"Response exceeds the {self._limit}-byte cap.", request=self._request)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def make_guarded_client(
    policy: EgressPolicy,
    *,
    auth: httpx2.Auth | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: httpx2.Timeout = DEFAULT_TIMEOUT,
    follow_redirects: bool = False,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    resolver: Resolver | None = None,
    verify: ssl.SSLContext | None = None,
    dialer: httpcore2.AsyncNetworkBackend | None = None,
) -> httpx2.AsyncClient:
    """An `httpx2.AsyncClient` whose every request and connection obeys `policy`; the caller owns its lifetime.

    Pass it as `streamable_http_client(url, http_client=...)`; give an OAuth provider as `auth` so discovery,
    registration and token requests go through the same guard. `headers` are treated as credentials: they are
    dropped if a followed redirect leaves the first request's origin. `resolver` and `dialer` (the backend that
    connects to the vetted IP literals) are seams for tests.
    """
    client_headers = {"Accept-Encoding": "identity"}  # the body cap counts wire bytes; keep them = decoded bytes
    client_headers.update(headers or {})
    transport = GuardedTransport(
        policy,
        resolver=resolver,
        verify=verify,
        max_response_bytes=max_response_bytes,
        origin_bound_headers=(headers or {}).keys(),
        dialer=dialer,
    )
    return httpx2.AsyncClient(
        transport=transport,
        trust_env=False,
        auth=auth,
        headers=client_headers,
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects + (AUTH_FLOW_STEPS if auth is not None else 0),
    )


class ClientFactory(Protocol):
    """The shape of the MCP SDK's `McpHttpClientFactory` (kept here: the SDK's lives in a private module)."""

    def __call__(
        self,
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient: ...


def guarded_client_factory(
    policy: EgressPolicy,
    *,
    resolver: Resolver | None = None,
    max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    verify: ssl.SSLContext | None = None,
) -> ClientFactory:
    """An `httpx_client_factory` for `mcp.client.sse.sse_client`, building guarded clients."""

    def factory(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        return make_guarded_client(
            policy,
            auth=auth,
            headers=headers,
            timeout=timeout or DEFAULT_TIMEOUT,
            max_response_bytes=max_response_bytes,
            resolver=resolver,
            verify=verify,
        )

    return factory
