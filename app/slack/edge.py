"""The thin Slack edge: one wrapper does what every button and modal listener used to do by hand.

`@slack_handler` turns a method `(self, req: Request)` into a Bolt listener `(self, ack, body, client)`: it
derives the owner from the payload (never from what a button carries), builds the `Reply` that answers in the
invoking conversation (the modal's stored response_url for view submissions, else the payload's), and says a
`PlugboardError` to the owner as `:x: <message>`. Acking stays with each handler: some ack at once, modal
submissions ack with field errors, so their errors are theirs to answer (the wrapper does not catch them there).
`reporting_errors(reply)` is the same mapping for a part of a handler that carries on after a failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.errors import PlugboardError
from app.domain.owner import Owner
from app.slack.reply import Reply
from app.slack.requester import owner_from_body, view_metadata
from app.slack.text import escape

Self = TypeVar("Self")


@dataclass(frozen=True)
class Request:
    """One button press or modal submission: who asked, how to answer them, and Bolt's handles."""

    ack: AsyncAck
    body: dict[str, Any]
    client: AsyncWebClient
    owner: Owner
    reply: Reply

    @property
    def view(self) -> dict[str, Any]:
        view: dict[str, Any] = self.body["view"]
        return view

    @property
    def metadata(self) -> dict[str, str]:
        return view_metadata(self.body.get("view") or {})

    @property
    def value(self) -> str:
        """The pressed button's value (or the chosen option's, for menus)."""
        action: dict[str, Any] = self.body["actions"][0]
        if "selected_option" in action:
            return str(action["selected_option"]["value"])
        return str(action.get("value", ""))

    @property
    def response_url(self) -> str:
        url: str = self.body.get("response_url", "")
        return url


def error_blocks(exc: PlugboardError) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": f":x: {escape(str(exc))}"[:3000]}}]


async def report_error(reply: Reply, exc: PlugboardError, *, replace: bool = True, escaped: bool = False) -> None:
    """The message the owner sees for a refused request (`escaped` also escapes the notification text)."""
    await reply.send(escape(str(exc)) if escaped else str(exc), error_blocks(exc), replace=replace)


@asynccontextmanager
async def reporting_errors(reply: Reply, *, replace: bool = True, escaped: bool = False) -> AsyncIterator[None]:
    """Say a `PlugboardError` raised inside the block to the owner, and carry on after the block."""
    try:
        yield
    except PlugboardError as exc:
        await report_error(reply, exc, replace=replace, escaped=escaped)


def request_from(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> Request:
    owner = owner_from_body(body)
    if body.get("type") == "view_submission":
        response_url = view_metadata(body.get("view") or {}).get("response_url") or None
    else:
        response_url = body.get("response_url")
    return Request(ack=ack, body=body, client=client, owner=owner, reply=Reply(client, owner, response_url))


def slack_handler(
    handler: Callable[[Self, Request], Awaitable[None]],
) -> Callable[[Self, AsyncAck, dict[str, Any], AsyncWebClient], Awaitable[None]]:
    """Bolt reads the listener's argument names, so the wrapper names them itself (no `__wrapped__`)."""

    async def listener(self: Self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        req = request_from(ack, body, client)
        if body.get("type") == "view_submission":
            await handler(self, req)
            return
        try:
            await handler(self, req)
        except PlugboardError as exc:
            await report_error(req.reply, exc)

    listener.__name__ = handler.__name__
    listener.__qualname__ = handler.__qualname__
    listener.__doc__ = handler.__doc__
    return listener
