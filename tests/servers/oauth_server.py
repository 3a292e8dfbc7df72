"""An MCP server behind a real OAuth 2.1 authorization server, both on one loopback origin.

``build_oauth_app(base_url, ...)`` returns ``(asgi_app, authority)``:

- the MCP endpoint ``<base>/mcp`` (streamable HTTP; tools ``echo{message}`` and ``whoami{}``) answers 401 with
  ``WWW-Authenticate: Bearer ... resource_metadata="<base>/.well-known/oauth-protected-resource/mcp"`` until a
  valid bearer token is sent, and serves that RFC 9728 document;
- the authorization server (the MCP SDK's ``mcp.server.auth`` handlers over :class:`TestAuthority`): RFC 8414
  metadata with ``code_challenge_methods_supported: ["S256"]``, dynamic client registration, an authorization
  endpoint that approves at once (302 back to the client's redirect URI with ``code``, ``state`` and RFC 9207
  ``iss``), a token endpoint checking PKCE S256 (authorization_code and refresh_token grants, rotating refresh
  tokens), and revocation.

``TestAuthority`` is the in-process handle tests use: it counts requests per endpoint, and can expire every
access token (``expire_access_tokens``) or revoke every refresh token (``revoke_refresh_tokens``).
``metadata_overrides`` rewrites the served AS metadata (``None`` values remove a key) for hostile variants:
no S256, a token endpoint at an internal address, ...; ``challenge_metadata_url`` replaces the 401
challenge's ``resource_metadata`` URL.

Run standalone (``python oauth_server.py --port 8765``) to poke at it with a browser; it imports only the
stdlib, ``mcp`` and what ``mcp`` depends on (starlette, uvicorn).
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp.server import MCPServer
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    OAuthAuthorizationServerProvider,
    RefreshToken,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METADATA_PATH = "/.well-known/oauth-authorization-server"


@dataclass
class TestAuthority(OAuthAuthorizationServerProvider[AuthorizationCode, RefreshToken, AccessToken]):
    """The authorization server's state: clients, codes, tokens, and counters for assertions."""

    __test__ = False  # not a pytest test class

    issuer: str
    access_token_seconds: int = 3600
    clock: Callable[[], float] = time.time
    clients: dict[str, OAuthClientInformationFull] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)  # "METHOD /path" -> count
    grants: Counter[str] = field(default_factory=Counter)  # grant_type -> successful exchanges
    code_redemptions: int = 0  # token requests that tried to redeem an authorization code, valid or not
    authorize_params: list[AuthorizationParams] = field(default_factory=list)
    bearer_headers: list[str] = field(default_factory=list)  # every Authorization header the MCP endpoint saw

    # -- test hooks -----------------------------------------------------------------------------------------

    @property
    def token_requests(self) -> int:
        return self.requests["POST /token"]

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (as if its lifetime had passed)."""
        self.access_tokens.clear()

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token issued so far is revoked; a refresh grant with one gets `invalid_grant`."""
        self.refresh_tokens.clear()

    # -- OAuthAuthorizationServerProvider -------------------------------------------------------------------

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        assert client_info.client_id is not None
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        """Approve at once: no login page, no consent screen."""
        self.authorize_params.append(params)
        code = secrets.token_urlsafe(32)
        assert client.client_id is not None
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=params.scopes or [],
            expires_at=self.clock() + 300,
            client_id=client.client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
            subject="test-user",
        )
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state, iss=self.issuer)

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        self.code_redemptions += 1
        code = self.codes.get(authorization_code)
        return code if code is not None and code.client_id == client.client_id else None

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        self.codes.pop(authorization_code.code, None)  # single use
        self.grants["authorization_code"] += 1
        return self._issue(client, authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        token = self.refresh_tokens.get(refresh_token)
        return token if token is not None and token.client_id == client.client_id else None

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        self.refresh_tokens.pop(refresh_token.token, None)  # rotation: the old one is spent
        self.grants["refresh_token"] += 1
        return self._issue(client, scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        access = self.access_tokens.get(token)
        if access is None or (access.expires_at is not None and access.expires_at < self.clock()):
            return None
        return access

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.access_tokens.pop(token.token, None)
        self.refresh_tokens.pop(token.token, None)

    def _issue(self, client: OAuthClientInformationFull, scopes: list[str], resource: str | None) -> OAuthToken:
        assert client.client_id is not None
        access, refresh = f"at_{secrets.token_urlsafe(24)}", f"rt_{secrets.token_urlsafe(24)}"
        expires_at = int(self.clock()) + self.access_token_seconds
        self.access_tokens[access] = AccessToken(
            token=access, client_id=client.client_id, scopes=scopes, expires_at=expires_at, resource=resource
        )
        self.refresh_tokens[refresh] = RefreshToken(
            token=refresh, client_id=client.client_id, scopes=scopes, resource=resource
        )
        return OAuthToken(
            access_token=access,
            token_type="Bearer",
            expires_in=self.access_token_seconds,
            refresh_token=refresh,
            scope=" ".join(scopes) or None,
        )


class _Observer:
    """Counts requests, records bearer headers on /mcp, rewrites the AS metadata document, and optionally
    points the 401 challenge's `resource_metadata` somewhere else."""

    def __init__(
        self, app: ASGIApp, authority: TestAuthority, overrides: dict[str, Any], challenge_metadata_url: str | None
    ) -> None:
        self._app = app
        self._authority = authority
        self._overrides = overrides
        self._challenge_metadata_url = challenge_metadata_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        self._authority.requests[f"{method} {path}"] += 1
        if path.startswith("/mcp"):
            headers = dict(scope["headers"])
            self._authority.bearer_headers.append(headers.get(b"authorization", b"").decode("latin-1"))
            if self._challenge_metadata_url is not None:
                await self._app(scope, receive, self._rechallenging(send, self._challenge_metadata_url))
                return
        if path == METADATA_PATH and method == "GET" and self._overrides:
            await self._app(scope, receive, self._rewriting(send))
            return
        await self._app(scope, receive, send)

    @staticmethod
    def _rechallenging(send: Send, metadata_url: str) -> Send:
        async def rechallenge(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                headers = [(k, v) for k, v in message["headers"] if k.lower() != b"www-authenticate"]
                challenge = f'Bearer error="invalid_token", resource_metadata="{metadata_url}"'
                headers.append((b"www-authenticate", challenge.encode()))
                message = {**message, "headers": headers}
            await send(message)

        return rechallenge

    def _rewriting(self, send: Send) -> Send:
        start: dict[str, Any] = {}

        async def rewrite(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] == "http.response.body" and start:
                document = json.loads(message.get("body", b"") or b"{}")
                for key, value in self._overrides.items():
                    if value is None:
                        document.pop(key, None)
                    else:
                        document[key] = value
                body = json.dumps(document).encode()
                headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                start.clear()
                return
            await send(message)

        return rewrite


def echo(message: str) -> str:
    """Return the message unchanged."""
    return message


def whoami() -> str:
    """Say who the server thinks is calling."""
    return "test-user"


def build_oauth_app(
    base_url: str,
    *,
    access_token_seconds: int = 3600,
    metadata_overrides: dict[str, Any] | None = None,
    challenge_metadata_url: str | None = None,
) -> tuple[ASGIApp, TestAuthority]:
    """The combined MCP server + authorization server for `base_url` (``http://127.0.0.1:<port>``)."""
    base_url = base_url.rstrip("/")
    authority = TestAuthority(issuer=base_url, access_token_seconds=access_token_seconds)
    overrides = {"authorization_response_iss_parameter_supported": True, **(metadata_overrides or {})}
    server = MCPServer(
        "oauth-test-server",
        version="1.0.0",
        auth_server_provider=authority,
        auth=AuthSettings(
            issuer_url=base_url,  # pydantic parses the string
            resource_server_url=f"{base_url}/mcp",
            client_registration_options=ClientRegistrationOptions(enabled=True),
            revocation_options=RevocationOptions(enabled=True),
            validate_token_resource=True,
        ),
    )
    server.add_tool(echo, name="echo", structured_output=False)
    server.add_tool(whoami, name="whoami", structured_output=False)
    app = _Observer(server.streamable_http_app(), authority, overrides, challenge_metadata_url)
    return app, authority


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token-seconds", type=int, default=3600)
    args = parser.parse_args()
    app, _ = build_oauth_app(f"http://127.0.0.1:{args.port}", access_token_seconds=args.token_seconds)
    uvicorn.run(app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
