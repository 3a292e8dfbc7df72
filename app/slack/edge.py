"""The thin Slack edge: one wrapper does what every button and modal listener used to do by hand.

`@slack_handler` turns a method `(self, req: Request)` into a Bolt listener `(self, ack, body, client)`: it
derives the owner from the payload (never from what a button carries), builds the `Reply` that answers in the
invoking conversation (the modal's stored response_url for view submissions, else the payload's), and says a
`PlugboardError` to the owner as `:x: <message>`. Acking stays with each handler: some ack at once, modal
submissions ack with field errors, so their errors are theirs to answer (the wrapper does not catch them there).
`reporting_errors(reply)` is the same mapping for a part of a handler that carries on after a failure.

`@slack_command` does the same for the slash command (the owner from the form fields, the subcommand parsed, a
`PlugboardError` said ephemerally; each subcommand acks itself, at once), and `@slack_event` derives the owner of
an Events API event from its envelope.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.errors import PlugboardError
from app.domain.owner import Owner
from app.slack.blocks.plain import error_blocks
from app.slack.command_line import CommandRequest, parse_command
from app.slack.pooled_respond import PooledRespond
from app.slack.reply import Reply
from app.slack.requester import owner_from_body, view_metadata
from app.slack.text import escape

Self = TypeVar("Self")
Listener = TypeVar("Listener", bound=Callable[..., Any])


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


async def report_error(reply: Reply, exc: PlugboardError, *, replace: bool = True, escaped: bool = False) -> None:
    """The message the owner sees for a refused request (`escaped` also escapes the notification text)."""
    await reply.send(escape(str(exc)) if escaped else str(exc), error_blocks(str(exc)), replace=replace)


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
    async def listener(self: Self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        req = request_from(ack, body, client)
        if body.get("type") == "view_submission":
            await handler(self, req)
            return
        try:
            await handler(self, req)
        except PlugboardError as exc:
            await report_error(req.reply, exc)

    return _named_like(listener, handler)


def slack_command(
    handler: Callable[[Self, CommandRequest], Awaitable[None]],
) -> Callable[[Self, AsyncAck, dict[str, Any], AsyncWebClient], Awaitable[None]]:
    async def listener(self: Self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        command = parse_command(body.get("text", ""))
        respond = PooledRespond.of(client, body.get("response_url"))
        try:
            await handler(self, CommandRequest(command, owner_from_body(body), body, ack, respond, client))
        except PlugboardError as exc:
            await _answer(ack, respond, f":x: {escape(str(exc))}")

    return _named_like(listener, handler)


async def _answer(ack: AsyncAck, respond: AsyncRespond, text: str) -> None:
    """Answer in the ack if it is still unsent, otherwise through response_url."""
    if not ack.response:
        await ack(text=text, response_type="ephemeral")
    else:
        await respond(text=text, response_type="ephemeral")


@dataclass(frozen=True)
class Event:
    """One Events API event: whose it is, the event itself, and the Web API client."""

    owner: Owner
    event: dict[str, Any]
    client: AsyncWebClient
    # Slack's id of this delivery's event: a retry carries the same one.
    event_id: str = ""


def slack_event(
    handler: Callable[[Self, Event], Awaitable[None]],
) -> Callable[[Self, dict[str, Any], AsyncWebClient], Awaitable[None]]:
    """An event with no person behind it (another bot, an edit or deletion, which carry no top-level `user`) is
    nobody's, so it never reaches the handler."""

    async def listener(self: Self, body: dict[str, Any], client: AsyncWebClient) -> None:
        if not (body.get("event") or {}).get("user"):
            return
        await handler(self, Event(owner_from_body(body), body["event"], client, str(body.get("event_id") or "")))

    return _named_like(listener, handler)


def _named_like(listener: Listener, handler: Callable[..., Any]) -> Listener:
    """Bolt reads the listener's argument names, so the wrapper names them itself (no `__wrapped__`)."""
    listener.__name__ = handler.__name__
    listener.__qualname__ = handler.__qualname__
    listener.__doc__ = handler.__doc__
    return listener
