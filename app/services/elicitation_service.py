"""MCP elicitation: a server asks its owner something in the middle of a tool call, and waits for the answer.

The runtime hands each `elicitation/create` request here (`handle`). A question cannot open a Slack modal by
itself (that needs a click's trigger_id), so the notifier posts a message with a "Provide input" button (form
mode) or the full link with a warning (URL mode), and a Decline button. The person's answer resolves the waiting
call: `answer` (accept with content), `decline`, `open_link` (URL mode accept); no answer within the timeout
cancels. Only the server's owner can answer.

Where the question is posted: the owner's DM, unless the caller said otherwise with `asking_in(...)` around the
tool call (the assistant does, for its thread). The runtime cannot link a question to the call it belongs to (a
server asks on the connection, not on the call), so `asking_in` records the place twice: in a context variable
(seen when the question is resolved inside the call, as on 2026-07-28 connections) and per server id (used by
handshake-era connections, where the question arrives on the connection's own task; the latest place set for
that server wins).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import anyio
import mcp_types as types

from app.domain.errors import ElicitationGone, NotYourElicitation
from app.domain.owner import Owner
from app.domain.server import ServerRecord

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 600.0  # ten minutes for a person to answer; then the server hears "cancel"
MAX_PENDING_PER_OWNER = 10

Outcome = Literal["accepted", "declined", "expired", "withdrawn"]


@dataclass(frozen=True)
class Conversation:
    """A place in Slack to ask: a channel (or DM) id, and the thread within it."""

    channel: str
    thread_ts: str | None = None


@dataclass(frozen=True)
class ElicitationRequest:
    id: str
    owner: Owner
    server_id: str
    server_name: str
    message: str
    schema: Mapping[str, Any] | None  # form mode: the flat schema to fill in
    url: str | None  # URL mode: the link the server wants opened
    where: Conversation | None  # None: the owner's DM
    expires_at: float

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "") if self.url else ""


@dataclass
class _Pending:
    request: ElicitationRequest
    answer: asyncio.Future[types.ElicitResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ElicitationNotifier(Protocol):
    async def ask(self, request: ElicitationRequest) -> None:
        """Show the question with its buttons where `request.where` says (else the owner's DM)."""

    async def settled(self, request: ElicitationRequest, outcome: Outcome) -> None:
        """The question is answered, declined, expired or no longer needed: update what `ask` showed."""


_asking_in: ContextVar[Conversation | None] = ContextVar("plugboard_elicitation_place", default=None)

_PRIMITIVE_TYPES = {"string", "number", "integer", "boolean"}


def flat_schema_problem(schema: Mapping[str, Any]) -> str | None:
    """Why a form schema is not the flat kind MCP allows (primitive properties, lists of choices), or None."""
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        return "its properties are not an object"
    for name, prop in properties.items():
        if not isinstance(prop, Mapping):
            return f"property {name!r} is not a schema"
        kind = prop.get("type")
        if kind in _PRIMITIVE_TYPES or "enum" in prop or "oneOf" in prop:
            continue
        items = prop.get("items")
        if kind == "array" and isinstance(items, Mapping) and ("enum" in items or "anyOf" in items):
            continue
        return f"property {name!r} is not a plain value or a list of choices"
    return None


class ElicitationService:
    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._timeout = timeout
        self._notifier: ElicitationNotifier | None = None
        self._pending: dict[str, _Pending] = {}
        self._places: dict[str, list[Conversation]] = {}  # server id -> places set by callers, latest last

    @property
    def timeout_minutes(self) -> int:
        return max(1, round(self._timeout / 60))

    def notify_with(self, notifier: ElicitationNotifier) -> None:
        self._notifier = notifier

    # -- where to ask ---------------------------------------------------------------------------------------

    @contextmanager
    def asking_in(self, server_id: str, where: Conversation) -> Iterator[None]:
        """Questions the server `server_id` asks during the block go to `where` instead of the owner's DM."""
        token = _asking_in.set(where)
        places = self._places.setdefault(server_id, [])
        places.append(where)
        try:
            yield
        finally:
            _asking_in.reset(token)
            places.remove(where)
            if not places:
                self._places.pop(server_id, None)

    def _place_for(self, server_id: str) -> Conversation | None:
        if (where := _asking_in.get()) is not None:
            return where
        places = self._places.get(server_id)
        return places[-1] if places else None

    # -- the runtime's side ---------------------------------------------------------------------------------

    async def handle(
        self, record: ServerRecord, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        """Ask `record`'s owner and wait for the answer (bounded by the timeout: then `cancel`)."""
        if self._notifier is None:
            return types.ErrorData(code=types.INVALID_REQUEST, message="Elicitation is not available here")
        if refusal := self._refusal(record.owner, params):
            return types.ErrorData(code=types.INVALID_PARAMS, message=refusal)
        request = ElicitationRequest(
            id=secrets.token_urlsafe(12),
            owner=record.owner,
            server_id=record.id,
            server_name=record.name,
            message=params.message,
            schema=params.requested_schema if isinstance(params, types.ElicitRequestFormParams) else None,
            url=params.url if isinstance(params, types.ElicitRequestURLParams) else None,
            where=self._place_for(record.id),
            expires_at=time.time() + self._timeout,
        )
        # Waiting before it is asked: the answer can come back before the post that asks it has returned.
        pending = _Pending(request)
        self._pending[request.id] = pending
        outcome: Outcome | None = None  # None: never asked
        try:
            try:
                await self._notifier.ask(request)
            except Exception:  # boundary: Slack refused the message; the server hears nobody could be asked
                log.warning("could not ask %s for %s's elicitation", request.owner, request.server_name, exc_info=True)
                return types.ErrorData(code=types.INTERNAL_ERROR, message="The person could not be asked")
            outcome = "withdrawn"
            try:
                result = await asyncio.wait_for(asyncio.shield(pending.answer), self._timeout)
            except TimeoutError:
                outcome = "expired"
                return types.ElicitResult(action="cancel")
            outcome = "accepted" if result.action == "accept" else "declined"
            return result
        finally:
            self._pending.pop(request.id, None)
            if outcome is not None:
                await self._settle(request, outcome)

    def _refusal(self, owner: Owner, params: types.ElicitRequestParams) -> str | None:
        if sum(1 for p in self._pending.values() if p.request.owner == owner) >= MAX_PENDING_PER_OWNER:
            return "Too many questions are already waiting for this person"
        if isinstance(params, types.ElicitRequestFormParams):
            problem = flat_schema_problem(params.requested_schema)
            return f"Plugboard shows only flat forms: {problem}" if problem else None
        parts = urlsplit(params.url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            return "Plugboard only shows http(s) links"
        return None

    async def _settle(self, request: ElicitationRequest, outcome: Outcome) -> None:
        """Update the question's message; shielded, since the call may be ending because it was cancelled."""
        assert self._notifier is not None
        with anyio.CancelScope(shield=True), anyio.move_on_after(10):
            try:
                await self._notifier.settled(request, outcome)
            except Exception:  # boundary: a Slack failure must not change what the server hears
                log.warning("could not update an elicitation message", exc_info=True)

    # -- the person's side ----------------------------------------------------------------------------------

    def pending(self, owner: Owner, request_id: str) -> ElicitationRequest:
        """The open question `request_id`, if it is `owner`'s to answer."""
        waiting = self._pending.get(request_id)
        if waiting is None or waiting.answer.done():
            raise ElicitationGone()
        if waiting.request.owner != owner:
            raise NotYourElicitation()
        return waiting.request

    def answer(self, owner: Owner, request_id: str, content: dict[str, Any]) -> None:
        """Accept with the values of the submitted form (already checked against its schema)."""
        self._resolve(owner, request_id, types.ElicitResult(action="accept", content=content))

    def decline(self, owner: Owner, request_id: str) -> None:
        self._resolve(owner, request_id, types.ElicitResult(action="decline"))

    def open_link(self, owner: Owner, request_id: str) -> str:
        """URL mode: the owner agreed to open the link; returns it (to show, never to fetch)."""
        request = self.pending(owner, request_id)
        if request.url is None:
            raise ElicitationGone()
        self._resolve(owner, request_id, types.ElicitResult(action="accept"))
        return request.url

    def _resolve(self, owner: Owner, request_id: str, result: types.ElicitResult) -> None:
        self.pending(owner, request_id)
        self._pending[request_id].answer.set_result(result)
