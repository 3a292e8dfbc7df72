"""Browser sign-ins in progress: state -> who started it, for which server, and a future the SDK awaits.

State is the SDK's own random `state` parameter; ours is single-use, expires after 10 minutes, and is
bound to the first browser that opens /oauth/start (a cookie), so a link finished in someone else's browser,
or opened in a second one, does nothing. Every way a sign-in ends (code, refusal, expiry, replacement) also
ends the connector task waiting for it, so its owner always hears the outcome.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from mcp.client.auth import OAuthFlowError
from mcp.shared.auth import AuthorizationCodeResult

from app.domain.owner import Owner

FLOW_TTL_SECONDS = 600.0


class AuthorizationRequired(OAuthFlowError):
    """The server needs the owner to sign in again; raised where no person can be asked (a running session)."""


@dataclass
class PendingSignIn:
    state: str
    owner: Owner
    server_id: str
    server_name: str
    authorization_url: str
    created_at: float
    code: asyncio.Future[AuthorizationCodeResult]
    finished: asyncio.Future[str | None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    browser_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    opened_by_browser: bool = False


def _fail(pending: PendingSignIn, reason: str) -> None:
    if not pending.code.done():
        pending.code.set_exception(OAuthFlowError(reason))
        pending.code.exception()  # marks it seen: a sign-in nobody waits for any more is not an error to log


def _same_browser(browser_key: str | None, pending: PendingSignIn) -> bool:
    # Bytes: compare_digest refuses non-ASCII str, and a cookie can hold anything.
    return browser_key is not None and secrets.compare_digest(browser_key.encode(), pending.browser_key.encode())


class SignInError(Exception):
    """Shown on the callback page; never includes what the authorization server said on a mismatch."""


SignInLink = Callable[[PendingSignIn, str], Awaitable[None]]


class OAuthFlows:
    def __init__(self, public_url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._public_url = public_url.rstrip("/")
        self._clock = clock
        self._pending: dict[str, PendingSignIn] = {}

    @property
    def redirect_uri(self) -> str:
        return f"{self._public_url}/oauth/callback"

    def start_url(self, state: str) -> str:
        return f"{self._public_url}/oauth/start?state={state}"

    def begin(self, owner: Owner, server_id: str, server_name: str, authorization_url: str) -> PendingSignIn:
        self._purge()
        state = parse_qs(urlsplit(authorization_url).query).get("state", [""])[0]
        if not state:
            raise OAuthFlowError("the authorization URL has no state parameter")
        loop = asyncio.get_running_loop()
        pending = PendingSignIn(
            state, owner, server_id, server_name, authorization_url, self._clock(), loop.create_future()
        )
        self._pending[state] = pending
        return pending

    async def wait_for_code(self, pending: PendingSignIn) -> AuthorizationCodeResult:
        try:
            async with asyncio.timeout(FLOW_TTL_SECONDS):
                return await pending.code
        except TimeoutError:
            self._pending.pop(pending.state, None)
            raise OAuthFlowError("the sign-in was not completed within 10 minutes") from None

    def opened(self, state: str, browser_key: str | None) -> PendingSignIn:
        """A browser arrived at /oauth/start; the first one to do so is the only one that can finish."""
        pending = self._live(state)
        if pending is None:
            raise SignInError(
                "This sign-in link is no longer valid (used, expired or unknown). Start again from Slack."
            )
        if pending.opened_by_browser and not _same_browser(browser_key, pending):
            self.abandon(pending, "the sign-in link was opened in a second browser")
            raise SignInError(
                "This sign-in link was already opened in another browser, so it no longer works. "
                "Start again from Slack."
            )
        pending.opened_by_browser = True
        return pending

    def abandon(self, pending: PendingSignIn, reason: str) -> None:
        """End a sign-in for good: its state stops working and whoever waits for it hears `reason`."""
        if self._pending.get(pending.state) is pending:
            del self._pending[pending.state]
        _fail(pending, reason)
        if not pending.finished.done():
            pending.finished.set_result(reason)

    def complete(
        self, state: str, browser_key: str | None, *, code: str | None, iss: str | None, error: str | None
    ) -> PendingSignIn:
        """The authorization server sent the browser back. Single use: the state is gone afterwards."""
        pending = self._pending.pop(state, None) if state else None
        if pending is not None and self._expired(pending):
            _fail(pending, "the sign-in was not completed within 10 minutes")
            pending = None
        if pending is None:
            raise SignInError(
                "This sign-in is no longer valid (already used, expired or unknown). Start again from Slack."
            )
        if not _same_browser(browser_key, pending):
            _fail(pending, "the sign-in was finished in a different browser")
            raise SignInError("This sign-in was started in a different browser. Start again from Slack.")
        if error or not code:
            _fail(pending, "the authorization server did not grant access")
            raise SignInError("The authorization server did not grant access. You can try again from Slack.")
        if not pending.code.done():
            pending.code.set_result(AuthorizationCodeResult(code=code, state=state, iss=iss))
        return pending

    def _live(self, state: str) -> PendingSignIn | None:
        pending = self._pending.get(state)
        if pending is None:
            return None
        if self._expired(pending):
            self.abandon(pending, "the sign-in was not completed within 10 minutes")
            return None
        return pending

    def _expired(self, pending: PendingSignIn) -> bool:
        return self._clock() - pending.created_at > FLOW_TTL_SECONDS

    def _purge(self) -> None:
        for pending in [p for p in self._pending.values() if self._expired(p)]:
            self.abandon(pending, "the sign-in was not completed within 10 minutes")
