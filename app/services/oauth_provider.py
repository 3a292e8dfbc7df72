"""The SDK's OAuthClientProvider with repairs for long-running, unattended sessions.

1. Tokens loaded from storage get their expiry back (`expires_in` as stored, counting down), so an expired
   access token is refreshed before use instead of being presented until the server refuses it.
2. When the server answers 401 to a token we hold a refresh token for (expired early, clock skew, a revoked
   access token), refresh once and retry before anything else. The SDK goes straight to a new browser
   sign-in on any 401, although a refresh would have done.
3. A session provider (`on_sign_in_needed` given) never starts a sign-in itself: where the SDK would run
   discovery, dynamic client registration and the browser redirect, it reports and raises
   `AuthorizationRequired`. Only the interactive sign-in registers clients, so two providers cannot race to
   store different client registrations for one server.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.utils import extract_field_from_www_auth

from app.services.oauth_flows import AuthorizationRequired

_LONG_AGO = 1.0  # a token_expiry_time in the past (0 would read as "no expiry")


class RefreshingOAuthProvider(OAuthClientProvider):
    def __init__(self, *args: Any, on_sign_in_needed: Callable[[], None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_sign_in_needed = on_sign_in_needed

    async def _initialize(self) -> None:
        await super()._initialize()
        tokens = self.context.current_tokens
        if tokens is not None and tokens.expires_in is not None:
            self.context.update_token_expiry(tokens)

    async def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        flow = super()._auth_flow(request)
        refreshed_after_refusal = False
        try:
            outgoing = await flow.__anext__()
            while True:
                response = yield outgoing
                if outgoing is request and _wants_sign_in(response):
                    if response.status_code == 401 and not refreshed_after_refusal and self.context.can_refresh_token():
                        refreshed_after_refusal = True
                        await flow.aclose()  # releases the provider's lock
                        self.context.token_expiry_time = _LONG_AGO
                        flow = super()._auth_flow(request)  # refreshes first, then resends the request
                        outgoing = await flow.__anext__()
                        continue
                    if self._on_sign_in_needed is not None:
                        self._on_sign_in_needed()
                        raise AuthorizationRequired("the server needs you to sign in again")
                try:
                    outgoing = await flow.asend(response)
                except StopAsyncIteration:
                    return
        finally:
            await flow.aclose()


def _wants_sign_in(response: httpx2.Response) -> bool:
    if response.status_code == 401:
        return True
    return response.status_code == 403 and extract_field_from_www_auth(response, "error") == "insufficient_scope"
