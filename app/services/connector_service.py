"""Remote servers that sign in with OAuth: the browser flow, session credentials, and re-authentication.

Two kinds of OAuthClientProvider per server: an interactive one used once to sign in (it DMs a Connect
link and waits for the browser), and a session one used by the running MCP session (refreshes tokens;
when a new sign-in is needed it marks the server `needs re-authentication` instead of asking anyone).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlsplit

import httpx2
from mcp.client.auth import OAuthClientProvider, OAuthFlowError
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata

from app.domain.remote_config import OAuthAuth, RemoteServerConfig
from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from app.runtime.remote_launcher import HttpClientFactory
from app.runtime.remote_probe import probe
from app.security.egress import EgressRefused
from app.services.oauth_flows import AuthorizationRequired, OAuthFlows, PendingSignIn
from app.services.oauth_provider import RefreshingOAuthProvider
from app.services.server_service import ServerService
from app.store.oauth_credentials import OAuthCredentialStore

log = logging.getLogger(__name__)

SETTLE_SECONDS = 30.0
# How a pre-registered confidential client authenticates at the token endpoint: HTTP Basic, which every
# authorization server MUST support (RFC 6749 §2.3.1) and the RFC 8414 default; client_secret_post is optional.
_TOKEN_AUTH = "client_secret_basic"


class ConnectorNotifier(Protocol):
    async def sign_in_link(self, record: ServerRecord, start_url: str, authorization_host: str) -> None: ...

    async def connected(self, record: ServerRecord, status: ServerStatus, tool_names: list[str]) -> None: ...

    async def failed(self, record: ServerRecord, reason: str) -> None: ...

    async def reauth_needed(self, record: ServerRecord) -> None: ...


class ConnectorService:
    def __init__(
        self,
        servers: ServerService,
        credentials: OAuthCredentialStore,
        flows: OAuthFlows,
        client_factory: HttpClientFactory,
        check_url: Callable[[str], None],
        client_metadata_url: str | None = None,
    ) -> None:
        self._servers = servers
        # A Client ID Metadata Document (CIMD) URL, offered to authorization servers that support it; else DCR.
        self._client_metadata_url = client_metadata_url
        self._credentials = credentials
        self._flows = flows
        self._client_factory = client_factory
        self._check_url = check_url
        self._notifier: ConnectorNotifier | None = None
        self._session_providers: dict[str, tuple[str, OAuthClientProvider]] = {}
        self._sign_in_needed: set[str] = set()
        self._authorizing: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    def notify_with(self, notifier: ConnectorNotifier) -> None:
        self._notifier = notifier

    # -- used by the runtime -----------------------------------------------------------------

    def session_auth(self, record: ServerRecord) -> httpx2.Auth:
        cached = self._session_providers.get(record.id)
        if cached and cached[0] == record.approved_hash:
            return cached[1]

        async def cannot_ask(authorization_url: str) -> None:
            self._sign_in_needed.add(record.id)
            raise AuthorizationRequired("the server needs you to sign in again")

        async def no_callback() -> AuthorizationCodeResult:
            raise AuthorizationRequired("the server needs you to sign in again")

        provider = self._provider(
            record, cannot_ask, no_callback, on_sign_in_needed=lambda: self._sign_in_needed.add(record.id)
        )
        self._session_providers[record.id] = (record.approved_hash, provider)
        return provider

    def needs_sign_in(self, record: ServerRecord) -> bool:
        return record.id in self._sign_in_needed

    async def on_status(self, record: ServerRecord, status: ServerStatus) -> None:
        """A server that had working tokens and now needs a sign-in gets its owner a Reconnect DM."""
        if status.state != "needs_auth" or record.id in self._authorizing or self._notifier is None or self._closed:
            return
        if await self._credentials.has_tokens(record.owner, record.id):
            await self._notifier.reauth_needed(record)

    # -- the interactive sign-in -------------------------------------------------------------

    def start_authorization(self, record: ServerRecord) -> None:
        """Start a sign-in; one already waiting for this server is replaced (its link stops working)."""
        if self._closed:
            return
        previous = self._authorizing.get(record.id)
        if previous is not None:
            previous.cancel()
        task = asyncio.create_task(self._authorize(record), name=f"oauth:{record.id}")
        self._authorizing[record.id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._authorizing.get(record.id) is done:
                del self._authorizing[record.id]

        task.add_done_callback(forget)

    async def close(self) -> None:
        self._closed = True  # servers stopping after this are not news for anyone
        for task in list(self._authorizing.values()):
            task.cancel()
        await asyncio.gather(*self._authorizing.values(), return_exceptions=True)

    async def _authorize(self, record: ServerRecord) -> None:
        config = _remote(record)
        pending: list[PendingSignIn] = []
        problem: str | None = None
        try:
            await self._preregister(record, config)
            provider = self._interactive_provider(record, pending)
            async with self._client_factory(auth=provider) as client:
                http_status = await probe(client, config)
            if http_status in (401, 403):
                problem = f"the server still refused access after sign-in (HTTP {http_status})"
        except OAuthFlowError as exc:
            problem = _flow_problem(exc)
        except EgressRefused as exc:
            problem = f"refused by Plugboard's network policy: {exc.reason}"
        except (httpx2.HTTPError, ValueError) as exc:
            problem = f"could not reach the server or its authorization server ({type(exc).__name__}: {exc})"
        except Exception as exc:  # boundary: a sign-in task must always end with a message to its owner
            log.exception("sign-in for %s failed", record.name)
            problem = f"the sign-in failed ({type(exc).__name__})"
        except asyncio.CancelledError:
            for started in pending:  # replaced by a newer sign-in, or the app is stopping
                self._flows.abandon(started, "this sign-in was replaced by a newer one")
            raise
        finally:
            for started in pending:
                if not started.finished.done():
                    started.finished.set_result(problem)
        if problem is not None:
            if self._notifier:
                await self._notifier.failed(record, problem)
            return
        self._sign_in_needed.discard(record.id)
        self._session_providers.pop(record.id, None)  # reload tokens from storage in a fresh provider
        await self._servers.reload(record.owner, record.name)
        status = await self._servers.wait_settled(record.id, SETTLE_SECONDS)
        overview = await self._servers.get(record.owner, record.name)  # after settling: its tools are listed
        if self._notifier:
            await self._notifier.connected(record, status, [t.tool.name for t in overview.tools])

    def _interactive_provider(self, record: ServerRecord, pending: list[PendingSignIn]) -> OAuthClientProvider:
        provider: OAuthClientProvider | None = None

        async def send_link(authorization_url: str) -> None:
            assert provider is not None
            metadata = provider.context.oauth_metadata
            methods = (metadata.code_challenge_methods_supported or []) if metadata else []
            if "S256" not in methods:
                raise OAuthFlowError("the authorization server does not support PKCE with S256; refusing to sign in")
            # Refuse before the owner is sent anywhere: the code could never be redeemed at a forbidden endpoint.
            self._vet_endpoint("authorization endpoint", authorization_url)
            if metadata is not None and metadata.token_endpoint is not None:
                self._vet_endpoint("token endpoint", str(metadata.token_endpoint))
            started = self._flows.begin(record.owner, record.id, record.name, authorization_url)
            pending.append(started)
            if self._notifier:
                host = urlsplit(authorization_url).hostname or "?"
                await self._notifier.sign_in_link(record, self._flows.start_url(started.state), host)

        async def wait_for_browser() -> AuthorizationCodeResult:
            return await self._flows.wait_for_code(pending[-1])

        provider = self._provider(record, send_link, wait_for_browser)
        return provider

    def _vet_endpoint(self, label: str, url: str) -> None:
        try:
            self._check_url(url)
        except ValueError as exc:
            shown = url if len(url) <= 200 else url[:200] + "…"
            raise OAuthFlowError(
                f"the authorization server's {label} {shown} is refused by Plugboard's network policy: {exc}"
            ) from None

    def _provider(
        self,
        record: ServerRecord,
        redirect: Callable[[str], Awaitable[None]],
        callback: Callable[[], Awaitable[AuthorizationCodeResult]],
        *,
        on_sign_in_needed: Callable[[], None] | None = None,
    ) -> OAuthClientProvider:
        config = _remote(record)
        auth = config.auth
        assert isinstance(auth, OAuthAuth)
        metadata = OAuthClientMetadata(
            client_name="Plugboard",
            redirect_uris=[self._flows.redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method=_TOKEN_AUTH if auth.client_secret else "none",
            scope=" ".join(auth.scopes) or None,
            application_type="web",
        )
        return RefreshingOAuthProvider(
            server_url=config.url,
            client_metadata=metadata,
            storage=self._credentials.for_server(record.owner, record.id, config.url),
            redirect_handler=redirect,
            callback_handler=callback,
            client_metadata_url=self._client_metadata_url,
            on_sign_in_needed=on_sign_in_needed,
        )

    async def _preregister(self, record: ServerRecord, config: RemoteServerConfig) -> None:
        auth = config.auth
        assert isinstance(auth, OAuthAuth)
        if not auth.client_id:
            return
        storage = self._credentials.for_server(record.owner, record.id)
        if await storage.get_client_info() is None:
            await storage.set_client_info(
                OAuthClientInformationFull(
                    client_id=auth.client_id,
                    client_secret=auth.client_secret,
                    redirect_uris=[self._flows.redirect_uri],
                    token_endpoint_auth_method=_TOKEN_AUTH if auth.client_secret else "none",
                    grant_types=["authorization_code", "refresh_token"],
                    response_types=["code"],
                )
            )


def _remote(record: ServerRecord) -> RemoteServerConfig:
    assert isinstance(record.config, RemoteServerConfig), "connectors handle remote servers only"
    return record.config


def _flow_problem(exc: OAuthFlowError) -> str:
    message = str(exc)
    # The SDK puts the state values in its mismatch message; never echo those.
    if "State parameter mismatch" in message:
        return "the sign-in response did not match this sign-in (state mismatch)"
    # Nor what a mismatched or missing `iss` said (RFC 9207: don't act on or show a response from another server).
    if "iss mismatch" in message or "missing iss" in message:
        return "the sign-in response did not come from the server's authorization server (iss mismatch)"
    return message[:300] or type(exc).__name__
