"""Helpers for `/mcp connect` tests: the Connect modal, DMs, and a test-driven browser for OAuth sign-ins."""

from __future__ import annotations

import contextlib
import contextvars
import html
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2

from tests.support import slack_payloads as payloads
from tests.support.harness import Harness, SlackUser, policy_toml, text_of

PUBLIC_URL = "http://plugboard.test"  # the harness's ASGI client talks to the app under this origin


def remote_policy(*, ports: list[int] | None = None, loopback: bool = True, hosts: list[str] | None = None) -> str:
    """Policy TOML: remote servers on loopback over plain http (tests only), on `ports` (None = any port)."""
    allowed = hosts if hosts is not None else (["127.0.0.0/8"] if loopback else [])
    lines = [
        "[remote]",
        f"allowed_hosts = {allowed!r}".replace("'", '"'),
        f"allow_http_loopback = {str(loopback).lower()}",
    ]
    if ports is None:
        lines.append("allow_any_port = true")
    else:
        lines.append(f"allowed_ports = {ports!r}")
    return policy_toml(extra="\n".join(lines) + "\n")


async def open_connect(user: SlackUser) -> dict[str, Any]:
    view = await user.open_modal("connect")
    assert view["callback_id"] == "server_connect", view["callback_id"]
    return view


async def submit_connect(
    user: SlackUser,
    view: dict[str, Any],
    *,
    name: str | None,
    url: str,
    transport: str = "auto",
    auth: str = "none",
    api_header: str | None = None,
    api_value: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    scopes: str | None = None,
) -> httpx2.Response:
    """Submit the Connect modal the way Slack would, selects included."""
    values: dict[str, dict[str, dict[str, Any]]] = {
        "url": {"value": payloads.text_value(url)},
        "transport": {"value": payloads.option_value(transport)},
        "auth": {"value": payloads.option_value(auth)},
        "api_header": {"value": payloads.text_value(api_header)},
        "api_value": {"value": payloads.text_value(api_value)},
        "oauth_client_id": {"value": payloads.text_value(client_id)},
        "oauth_client_secret": {"value": payloads.text_value(client_secret)},
        "oauth_scopes": {"value": payloads.text_value(scopes)},
    }
    if name is not None:
        values["name"] = {"value": payloads.text_value(name)}
    body = payloads.view_submission(
        view,
        values,
        user_id=user.user_id,
        team_id=user.team_id,
        trigger_id=user.slack.issue_trigger_id(user.user_id),
    )
    response = await user.harness.post(body)
    assert response.status_code == 200, response.text
    return response


def field_errors(response: httpx2.Response) -> dict[str, str]:
    """The inline errors of a `response_action: errors` ack ({} when the modal closed)."""
    if not response.text:
        return {}
    answer = response.json()
    assert answer.get("response_action") == "errors", answer
    errors: dict[str, str] = answer["errors"]
    return errors


async def connect_and_confirm(user: SlackUser, **form: Any) -> dict[str, Any]:
    """Open the modal, submit it, check the confirmation, click Confirm; returns the confirmation message."""
    view = await open_connect(user)
    response = await submit_connect(user, view, **form)
    assert field_errors(response) == {}
    confirmation = await user.reply()
    await user.click(confirmation, "change_confirm")
    return confirmation


async def final_report(user: SlackUser, *, timeout: float = 30.0) -> str:
    """The text of the `Done` / `Enabled` / `Reloaded` report that follows `Starting…`."""
    message = await user.reply(lambda m: m.get("text") != "Starting…", timeout=timeout)
    return text_of(message)


async def wait_dm(
    harness: Harness, predicate: Callable[[str], bool], *, after: int = 0, timeout: float = 30.0
) -> dict[str, Any]:
    """The first DM (chat.postMessage) whose visible text matches `predicate`."""
    call = await harness.slack.wait_for(
        "chat.postMessage", lambda c: c.ok and predicate(text_of(c.params)), timeout=timeout, after=after
    )
    return call.params


def button_url(message: dict[str, Any], action_id: str) -> str:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id and element.get("url"):
                return str(element["url"])
    raise AssertionError(f"no URL button {action_id!r} in {message}")


def everything_sent(harness: Harness) -> str:
    """Every byte the app sent to Slack (API calls and response_url posts), for secret-leak checks."""
    return "\n".join(repr(c.params) for c in harness.slack.calls)


# True while the test's browser itself runs: its HTTP client logs the URLs it visits (codes included), which
# says nothing about what the app logs. The app's side of each request is run with this reset to False.
_IN_BROWSER: contextvars.ContextVar[bool] = contextvars.ContextVar("in_browser", default=False)


class _AppLogs(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not _IN_BROWSER.get():
            self.lines.append(self.format(record))


@contextlib.contextmanager
def app_logs() -> Iterator[list[str]]:
    """Every log line (DEBUG and up, with tracebacks) emitted while the block runs, except the test browser's."""
    handler = _AppLogs()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


class _AppSide(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        token = _IN_BROWSER.set(False)
        try:
            return await self._inner.handle_async_request(request)
        finally:
            _IN_BROWSER.reset(token)


@contextlib.contextmanager
def _browsing() -> Iterator[None]:
    token = _IN_BROWSER.set(True)
    try:
        yield
    finally:
        _IN_BROWSER.reset(token)


@dataclass
class SignInResult:
    callback: httpx2.Response
    callback_url: str


@dataclass
class Browser:
    """A person's browser: its own cookie jar for the app (ASGI) and plain HTTP for the authorization server."""

    harness: Harness
    app: httpx2.AsyncClient = field(init=False)
    web: httpx2.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        app_side = _AppSide(httpx2.ASGITransport(app=self.harness.app.asgi))
        self.app = httpx2.AsyncClient(transport=app_side, base_url=PUBLIC_URL)
        self.web = httpx2.AsyncClient(follow_redirects=False, trust_env=False, timeout=10)

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.aclose()
        await self.web.aclose()

    async def open_start(self, start_url: str) -> httpx2.Response:
        assert start_url.startswith(f"{PUBLIC_URL}/oauth/start?"), start_url
        with _browsing():
            return await self.app.get(start_url.removeprefix(PUBLIC_URL))

    async def authorize(self, start_page: httpx2.Response) -> str:
        """Click Continue on the start page and follow the authorization server's redirects to our callback."""
        url = continue_link(start_page)
        for _ in range(5):
            with _browsing():
                response = await self.web.get(url)
            assert response.status_code in (302, 303, 307), (response.status_code, response.text[:500])
            url = response.headers["location"]
            if url.startswith(PUBLIC_URL):
                return url
        raise AssertionError("the authorization server never redirected back to Plugboard")

    async def callback(self, callback_url: str) -> httpx2.Response:
        with _browsing():
            return await self.app.get(callback_url.removeprefix(PUBLIC_URL))

    async def get(self, path: str) -> httpx2.Response:
        """A request to the app typed into the address bar (hostile callbacks)."""
        with _browsing():
            return await self.app.get(path)

    async def sign_in(self, start_url: str) -> SignInResult:
        start = await self.open_start(start_url)
        assert start.status_code == 200, start.text
        callback_url = await self.authorize(start)
        return SignInResult(await self.callback(callback_url), callback_url)


def continue_link(page: httpx2.Response) -> str:
    match = re.search(r"id='continue' href='([^']+)'", page.text)
    assert match, page.text
    return html.unescape(match.group(1))


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
