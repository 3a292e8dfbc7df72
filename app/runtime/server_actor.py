"""One task per (owner, server) that owns the MCP client from enter to exit, restarting it after crashes."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp import Client
from mcp.client.client import ConnectMode
from mcp.client.session import ClientRequestContext, ElicitationFnT, IncomingMessage
from mcp.shared.exceptions import MCPError

from app.domain.local_config import LocalServerConfig
from app.domain.risk import runner_package
from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from app.runtime.call_progress import current_progress
from app.runtime.launcher import Launcher
from app.runtime.stderr_hint import stderr_hint
from app.runtime.stderr_ring import StderrRing
from app.runtime.supervised_transport import TransportHealth, supervised
from app.security.redaction import Redactor

log = logging.getLogger(__name__)

StatusListener = Callable[[ServerRecord, ServerStatus], None]
ToolsListener = Callable[[ServerRecord, list[types.Tool]], Awaitable[None]]
ElicitationAnswer = types.ElicitResult | types.ErrorData
# Asks the server's owner what an `elicitation/create` request wants; lives above this layer (it talks to people).
ElicitationHandler = Callable[[ServerRecord, types.ElicitRequestParams], Awaitable[ElicitationAnswer]]

SAMPLING_REFUSED = (
    "the server asked Plugboard to run a language model for it (MCP sampling), which Plugboard does not support"
)


@dataclass(frozen=True)
class ActorTimings:
    connect_timeout: float = 30.0
    # A server started by a package runner (npx, uvx…) downloads it first: until it has been ready once, that
    # start is "installing", with this deadline instead of connect_timeout.
    first_start_timeout: float = 300.0
    request_timeout: float = 60.0
    restart_backoff: float = 1.0
    restart_backoff_max: float = 60.0
    # Failed starts in a row (never ready in between) before the actor stops trying until the owner acts.
    max_failed_starts: int = 3
    # What a tool call may spend waiting for its owner to answer the server's questions (elicitation), on top of
    # request_timeout; the clock of request_timeout stops while a question is open.
    elicitation_timeout: float = 600.0


@dataclass(frozen=True)
class ClientOptions:
    """How each MCP `Client` is built beyond the timings; the defaults are what production uses."""

    mode: ConnectMode = "auto"  # the first handshake; reconnects then use the era the server answered in
    elicitation_callback: ElicitationFnT | None = None  # None: elicitation is not advertised
    # Preferred over elicitation_callback: gets the server's record, and the call's clock stops while it runs.
    elicitation_handler: ElicitationHandler | None = None


PRODUCTION_CLIENT = ClientOptions()


class ServerActor:
    def __init__(
        self,
        record: ServerRecord,
        launcher: Launcher,
        timings: ActorTimings,
        on_status: StatusListener,
        on_tools: ToolsListener,
        options: ClientOptions = PRODUCTION_CLIENT,
    ) -> None:
        self.record = record
        self._launcher = launcher
        self._timings = timings
        self._on_status = on_status
        self._on_tools = on_tools
        self._client: Client | None = None
        self._refresh = asyncio.Event()
        self._settled = asyncio.Event()
        self._scope: anyio.CancelScope | None = None
        self._task: asyncio.Task[None] | None = None
        self._ask = options.elicitation_handler
        self._elicitation = self._on_elicit if options.elicitation_handler else options.elicitation_callback
        self._calls: dict[anyio.CancelScope, float] = {}  # the server's own time left, for calls paused by a question
        self._questions_open = 0
        self._mode: ConnectMode = options.mode
        # Every text built from what the server printed or raised goes through this before anyone sees it.
        self._redact = Redactor(record.config.secret_values())
        self.status = ServerStatus("starting")
        self.stderr_tail = ""
        self._ever_ready = False

    # -- control, from any task ------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"mcp:{self.record.owner.id}:{self.record.name}")

    async def stop(self) -> None:
        if self._scope is not None:
            self._scope.cancel()
        if self._task is not None:
            # stdio shutdown is bounded (close stdin, 2 s, SIGTERM, 2 s, SIGKILL); leave headroom.
            with anyio.move_on_after(15):
                await asyncio.shield(self._task)
        self._set_status(ServerStatus("stopped"))

    async def wait_settled(self, timeout: float) -> ServerStatus:
        """Wait until the first start attempt ends in `ready` or `error`."""
        with anyio.move_on_after(timeout):
            await self._settled.wait()
        return self.status

    async def call_tool(
        self, name: str, arguments: dict[str, Any], timeout: float | None = None
    ) -> types.CallToolResult:
        client = self._client
        if client is None or self.status.state != "ready":
            raise MCPError(code=types.CONNECTION_CLOSED, message=f"server is {self.status.label()}")
        limit = timeout or self._timings.request_timeout
        progress = current_progress()
        try:
            if self._ask is None:
                return await client.call_tool(name, arguments, read_timeout_seconds=limit, progress_callback=progress)
            # The MCP read timeout cannot stop while a person answers the server's question, so it gets the
            # person's time too; the server's own time is this scope's deadline, moved while a question is open.
            with anyio.CancelScope(deadline=anyio.current_time() + limit) as scope:
                self._calls[scope] = limit
                if self._questions_open:  # started while a question is open: its clock starts once answered
                    scope.deadline = math.inf
                try:
                    return await client.call_tool(
                        name,
                        arguments,
                        read_timeout_seconds=limit + self._timings.elicitation_timeout,
                        progress_callback=progress,
                    )
                finally:
                    del self._calls[scope]
            raise MCPError(code=types.REQUEST_TIMEOUT, message=f"Request 'tools/call' timed out after {limit:g} s")
        except MCPError as exc:
            if exc.code == types.MISSING_REQUIRED_CLIENT_CAPABILITY and "sampling" in str(exc.message).lower():
                raise MCPError(code=exc.code, message=SAMPLING_REFUSED) from None
            raise

    async def _on_elicit(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        assert self._ask is not None
        self._pause_calls()
        try:
            return await self._ask(self.record, params)
        finally:
            self._resume_calls()

    def _pause_calls(self) -> None:
        self._questions_open += 1
        if self._questions_open == 1:
            now = anyio.current_time()
            for scope in self._calls:
                self._calls[scope] = max(scope.deadline - now, 0.0)
                scope.deadline = math.inf

    def _resume_calls(self) -> None:
        self._questions_open -= 1
        if self._questions_open == 0:
            now = anyio.current_time()
            for scope, left in self._calls.items():
                scope.deadline = now + left

    # -- the actor's own task --------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        with anyio.CancelScope() as scope:
            self._scope = scope
            while True:
                self._set_status(ServerStatus("starting", self._starting_detail()))
                reason, retryable = await self._one_session()
                if reason is None:  # ended by the server in an orderly way after being ready
                    reason = "the server closed the connection"
                if self.status.state == "ready":
                    failures = 0
                if self._launcher.needs_authorization(self.record):
                    self._set_status(ServerStatus("needs_auth", reason))
                    self._settled.set()
                    return  # only the owner signing in again can fix this
                if self._launcher.retry_now(self.record):
                    continue
                failures += 1
                limit = self._timings.max_failed_starts
                reason = reason.rstrip().rstrip(".")  # sentences follow
                if not retryable:  # a missing command or folder will not appear by retrying
                    self._fail(f"{reason}. {self._what_to_do()}")
                    return
                if failures >= limit:
                    log.warning("server %s stopped after %d failed starts in a row", self.record.name, failures)
                    self._fail(f"{reason}. Stopped after {failures} failed starts in a row. {self._what_to_do()}")
                    return
                self._fail(f"{reason} (trying again: failed start {failures} of {limit}). {self._what_to_do()}")
                delay = min(self._timings.restart_backoff * 2 ** (failures - 1), self._timings.restart_backoff_max)
                await anyio.sleep(delay)

    def _installing(self) -> bool:
        """A first start through a package runner: the download comes before the MCP handshake."""
        config = self.record.config
        if self._ever_ready or not isinstance(config, LocalServerConfig):
            return False
        return runner_package(os.path.basename(config.command), config.args) is not None

    def _start_deadline(self) -> float:
        if self._installing():
            return max(self._timings.first_start_timeout, self._timings.connect_timeout)
        return self._timings.connect_timeout

    def _starting_detail(self) -> str:
        if self._installing():
            return f"installing… (first start downloads the package; up to {self._start_deadline():g} s)"
        return ""

    def _fail(self, detail: str) -> None:
        self._set_status(ServerStatus("error", detail))
        self._settled.set()

    def _what_to_do(self) -> str:
        name = self.record.name
        if isinstance(self.record.config, LocalServerConfig):
            return (
                f"What you can do: fix the command with `/mcp edit {name}`, try again with `/mcp reload {name}`, "
                "or ask your Plugboard admin if the host is missing something."
            )
        return (
            f"What you can do: try again with `/mcp reload {name}`, or change the URL or key with `/mcp edit {name}`."
        )

    async def _one_session(self) -> tuple[str | None, bool]:
        """Run one connection; return why it ended (None for a clean end) and whether a retry can help."""
        stderr = StderrRing()
        health = TransportHealth()
        try:
            return await self._connect_and_serve(stderr, health), True
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as exc:  # boundary: any failure of a user's server becomes its status
            leaf = _leaf(exc)
            launch_problem = self._launcher.describe_failure(self.record, exc)
            if launch_problem:
                return launch_problem, False
            return self._explain(leaf, health, stderr), True
        finally:
            self._client = None
            stderr.close()
            self.stderr_tail = self._redact(stderr.text())[-4000:]  # redacted whole: the cut cannot split a secret

    async def _connect_and_serve(self, stderr: StderrRing, health: TransportHealth) -> str | None:
        # Drain stderr from the moment the process exists: a chatty server must not block on a full pipe.
        transport = supervised(self._launcher.open(self.record, stderr), health, on_open=stderr.attach)
        allowed = self._start_deadline()
        with anyio.CancelScope(deadline=anyio.current_time() + allowed) as connect:
            async with Client(
                transport,
                mode=self._mode,
                read_timeout_seconds=self._timings.request_timeout,
                cache=None,
                message_handler=self._on_message,
                elicitation_callback=self._elicitation,
            ) as client:
                connect.deadline = math.inf
                self._ever_ready = True
                self._remember_era(client)
                self._client = client
                await self._publish_tools(client)
                self._settled.set()
                async with anyio.create_task_group() as tasks:
                    if _modern_with_list_changed(client):
                        tasks.start_soon(self._listen_for_changes, client)
                    while not health.closed.is_set():
                        await _wait_any(self._refresh, health.closed)
                        if self._refresh.is_set():
                            self._refresh.clear()
                            await self._publish_tools(client)
                    tasks.cancel_scope.cancel()
                return health.problem
        if connect.cancelled_caught:
            return (
                f"the server did not finish starting within {allowed:g} s"
                + _stdout_question(health)
                + self._hint(stderr)
            )
        return health.problem

    async def _publish_tools(self, client: Client) -> None:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(100):  # pagination is bounded: a server cannot keep us listing forever
            page = await client.list_tools(cursor=cursor, cache_mode="bypass")
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        await self._on_tools(self.record, tools)
        self._set_status(ServerStatus("ready", tool_count=len(tools)))

    async def _listen_for_changes(self, client: Client) -> None:
        try:
            async with client.listen(tools_list_changed=True) as events:
                async for _ in events:
                    self._refresh.set()
        except Exception:  # boundary: legacy fallback is the message handler; re-list on reconnect anyway
            log.debug("listen() unavailable for %s", self.record.name, exc_info=True)

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._refresh.set()

    def _remember_era(self, client: Client) -> None:
        # Probing `server/discover` against a legacy server that ignores it costs 10 s on every reconnect.
        self._mode = "legacy" if client.protocol_version != "2026-07-28" else "auto"

    def _explain(self, exc: BaseException, health: TransportHealth, stderr: StderrRing) -> str:
        if health.problem:
            return health.problem
        if isinstance(exc, MCPError):
            if exc.code == types.CONNECTION_CLOSED or health.closed.is_set():
                return "the server exited" + _stdout_question(health) + self._hint(stderr)
            return f"MCP error {exc.code}: {exc.message}" + self._hint(stderr)
        if health.closed.is_set():
            return "the server exited" + _stdout_question(health) + self._hint(stderr)
        trace = "".join(traceback.format_exception(exc)).rstrip()
        log.warning("server %s failed: %s", self.record.name, self._redact(trace))
        return f"{type(exc).__name__}: {exc}" + self._hint(stderr)

    def _hint(self, stderr: StderrRing) -> str:
        return stderr_hint(stderr.text(), self._redact)

    def _set_status(self, status: ServerStatus) -> None:
        if status.detail:  # exception texts, launcher messages and stderr can all carry a secret
            status = ServerStatus(status.state, self._redact(status.detail), status.tool_count)
        if status != self.status:
            self.status = status
            self._on_status(self.record, status)


def _modern_with_list_changed(client: Client) -> bool:
    caps = client.server_capabilities
    return client.protocol_version == "2026-07-28" and bool(caps and caps.tools and caps.tools.list_changed)


async def _wait_any(*events: asyncio.Event | anyio.Event) -> None:
    async with anyio.create_task_group() as tasks:

        async def wait_one(event: asyncio.Event | anyio.Event) -> None:
            await event.wait()
            tasks.cancel_scope.cancel()

        for event in events:
            tasks.start_soon(wait_one, event)


def _leaf(exc: BaseException) -> BaseException:
    # Errors from `async with Client(...)` arrive wrapped in nested ExceptionGroups.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _stdout_question(health: TransportHealth) -> str:
    """Asked only when the process did print something on stdout that is not MCP."""
    if not health.wrote_non_mcp:
        return ""
    return "; it printed lines on stdout that are not MCP messages (is this an MCP server that speaks stdio?)"
