"""Remote servers over streamable HTTP or SSE, every request through the egress guard's HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx2
from mcp.client._transport import TransportStreams
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from app.domain.remote_config import ApiKeyAuth, OAuthAuth, RemoteServerConfig
from app.domain.server import ServerRecord
from app.runtime.launcher import LaunchError
from app.runtime.stderr_ring import StderrRing
from app.security.egress import ClientFactory

# Streamable HTTP answers these when the URL is an SSE-only (legacy) endpoint.
_FALLBACK_STATUSES = {400, 404, 405}


# The same shape as the SDK's client factory; the egress guard defines it next to the factories it makes.
HttpClientFactory = ClientFactory

AuthSource = Callable[[ServerRecord], httpx2.Auth]
NeedsSignIn = Callable[[ServerRecord], bool]


class SessionCredentials:
    """Where the launcher gets a remote session's OAuth: the connector service, bound once it exists.

    The launcher is built before the connector service (which needs the sessions that use the launcher), so the
    wiring makes this first, hands it to the launcher, and binds the connector service's two methods to it later.
    """

    def __init__(self) -> None:
        self._oauth_for: AuthSource | None = None
        self._needs_sign_in: NeedsSignIn | None = None

    def bind(self, oauth_for: AuthSource, needs_sign_in: NeedsSignIn) -> None:
        self._oauth_for = oauth_for
        self._needs_sign_in = needs_sign_in

    def oauth_for(self, record: ServerRecord) -> httpx2.Auth:
        if self._oauth_for is None:
            raise RuntimeError("SessionCredentials used before the connector service was bound")
        return self._oauth_for(record)

    def needs_sign_in(self, record: ServerRecord) -> bool:
        if self._needs_sign_in is None:
            raise RuntimeError("SessionCredentials used before the connector service was bound")
        return self._needs_sign_in(record)


def remote_config(record: ServerRecord) -> RemoteServerConfig:
    if not isinstance(record.config, RemoteServerConfig):
        raise LaunchError(f"`{record.name}` is not a remote server")
    return record.config


class RemoteLauncher:
    def __init__(
        self,
        client_factory: HttpClientFactory,
        credentials: SessionCredentials,
        describe_http_error: Callable[[BaseException], str | None],
    ) -> None:
        self._client_factory = client_factory
        self._credentials = credentials
        self._describe_http_error = describe_http_error
        self._use_sse: set[str] = set()  # servers on "auto" that turned out to speak only SSE
        self._last_status: dict[str, int] = {}
        self._redirected_to: dict[str, str] = {}  # where a redirect that was not followed pointed (host only)

    def open(self, record: ServerRecord, stderr: StderrRing) -> AbstractAsyncContextManager[TransportStreams]:
        return self._session(record)

    @asynccontextmanager
    async def _session(self, record: ServerRecord) -> AsyncIterator[TransportStreams]:
        config = remote_config(record)
        headers = {config.auth.header: config.auth.value} if isinstance(config.auth, ApiKeyAuth) else {}
        auth = self._credentials.oauth_for(record) if isinstance(config.auth, OAuthAuth) else None
        self._last_status.pop(record.id, None)
        self._redirected_to.pop(record.id, None)

        def factory(
            headers: dict[str, str] | None = None,
            timeout: httpx2.Timeout | None = None,
            auth: httpx2.Auth | None = None,
        ) -> httpx2.AsyncClient:
            client = self._client_factory(headers=headers, timeout=timeout, auth=auth)
            client.event_hooks["response"].append(self._recorder(record))
            return client

        if config.transport == "sse" or (config.transport == "auto" and record.id in self._use_sse):
            async with sse_client(config.url, headers=headers, auth=auth, httpx_client_factory=factory) as streams:
                yield streams
            return
        async with (
            factory(headers=headers, auth=auth) as client,
            streamable_http_client(config.url, http_client=client) as streams,
        ):
            yield streams

    def _recorder(self, record: ServerRecord) -> Callable[[httpx2.Response], object]:
        async def record_status(response: httpx2.Response) -> None:
            if response.status_code >= 400:
                self._last_status[record.id] = response.status_code
            elif response.is_redirect:
                self._last_status[record.id] = response.status_code
                try:
                    host = response.request.url.join(response.headers.get("location", "")).host
                except (httpx2.InvalidURL, ValueError):
                    host = ""
                self._redirected_to[record.id] = host or "?"

        return record_status

    def retry_now(self, record: ServerRecord) -> bool:
        config = remote_config(record)
        status = self._last_status.get(record.id)
        if config.transport == "auto" and record.id not in self._use_sse and status in _FALLBACK_STATUSES:
            self._use_sse.add(record.id)
            return True
        return False

    def copies_can_overlap(self, record: ServerRecord) -> bool:
        # Two copies of an OAuth server could both refresh, and a rotated refresh token would sign the other out.
        return not isinstance(remote_config(record).auth, OAuthAuth)

    def needs_authorization(self, record: ServerRecord) -> bool:
        config = remote_config(record)
        if isinstance(config.auth, OAuthAuth):
            return self._credentials.needs_sign_in(record)
        return False

    def describe_failure(self, record: ServerRecord, exc: BaseException) -> str | None:
        if described := self._describe_http_error(exc):
            return described
        config = remote_config(record)
        if isinstance(config.auth, OAuthAuth) and self._credentials.needs_sign_in(record):
            return "the server needs you to sign in again"
        status = self._last_status.get(record.id)
        if status == 401 and isinstance(config.auth, ApiKeyAuth):
            return f"the server refused the API key in `{config.auth.header}` (HTTP 401); check the key"
        if status == 401 and not isinstance(config.auth, OAuthAuth):
            return "the server requires authentication (HTTP 401); connect it again with an API key or OAuth"
        if status == 403:
            return "the server refused access (HTTP 403)"
        if status is not None and 300 <= status < 400 and record.id in self._redirected_to:
            host = self._redirected_to[record.id]
            return (
                f"the server redirected to another address ({host}, HTTP {status}); Plugboard only follows "
                "redirects within the server's own origin. Connect the final URL instead"
            )
        if status == 404 and config.transport != "auto":
            return f"there is no MCP endpoint at {config.url} (HTTP 404)"
        return None  # network trouble and server errors may pass: the actor retries with backoff

    def notice(self, record: ServerRecord) -> str | None:
        return None

    def forget(self, record: ServerRecord) -> None:
        """Nothing on the host: a remote server's tokens are deleted with its record."""

    def close(self) -> None:
        """HTTP clients live and die with each session."""
