"""In-memory fakes of our own seams (database + repositories + audit log, session manager, policy gate, mirror),
for testing the services without SQLite, processes or network."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

import mcp_types as types
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from app.domain.errors import InvalidConfig
from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.domain.remote_config import RemoteServerConfig
from app.domain.server import PendingChange, ServerDiff, ServerRecord
from app.domain.status import STOPPED, ServerStatus
from app.runtime.tool_registry import ToolRegistry
from app.services.local_gate import RunConditions
from app.services.server_service import ServerService
from app.store.server_repository import StaleUpdate


class FakeStore:
    """The Database, ServerRepository and AuditLog at once: servers, pending changes and audit entries in memory.
    A transaction is serialized and rolled back (servers and pending changes) on any exception."""

    def __init__(self) -> None:
        self.servers: dict[str, ServerRecord] = {}
        self.pending: dict[str, PendingChange] = {}
        self.audit: list[dict[str, Any]] = []
        self.counted_inside_a_transaction = 0
        self._lock = asyncio.Lock()
        self._open = False

    def actions(self) -> list[str]:
        return [entry["action"] for entry in self.audit]

    # Database
    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeStore]:
        async with self._lock:
            saved = copy.copy(self.servers), copy.copy(self.pending), list(self.audit)
            self._open = True
            try:
                yield self
            except BaseException:
                self.servers, self.pending, self.audit = saved
                raise
            finally:
                self._open = False

    # ServerRepository
    async def list_for_owner(self, owner: Owner) -> list[ServerRecord]:
        await asyncio.sleep(0)  # a real read yields to other tasks, so races can show
        return sorted((r for r in self.servers.values() if r.owner == owner), key=lambda r: r.name)

    async def list_enabled(self) -> list[ServerRecord]:
        return sorted((r for r in self.servers.values() if r.enabled), key=lambda r: (r.owner.id, r.name))

    async def list_owners(self) -> list[Owner]:
        return list({r.owner.id: r.owner for r in self.servers.values()}.values())

    async def count_enabled(self) -> int:
        return sum(1 for r in self.servers.values() if r.enabled)

    async def public_rows(self, *, after_owner: str = "", owners: int | None = None) -> list[dict[str, Any]]:
        """What the real repository's rows hold besides the sealed secrets, ordered by owner, a page of owners."""
        chosen = sorted({r.owner.id for r in self.servers.values() if r.owner.id > after_owner})[:owners]
        rows = [
            {
                "id": r.id,
                "owner_id": r.owner.id,
                "enterprise_id": r.owner.enterprise_id,
                "team_id": r.owner.team_id,
                "user_id": r.owner.user_id,
                "name": r.name,
                "config_json": json.dumps(r.config.public_dict()),
                "enabled": int(r.enabled),
                "approved_hash": r.approved_hash,
                "version": r.version,
                "created_at": r.created_at,
                "updated_at": r.updated_at,
            }
            for r in sorted(self.servers.values(), key=lambda r: (r.owner.id, r.name))
            if r.owner.id in chosen
        ]
        return rows

    async def get(self, server_id: str) -> ServerRecord | None:
        return self.servers.get(server_id)

    async def get_by_name(self, owner: Owner, name: str) -> ServerRecord | None:
        return next((r for r in self.servers.values() if r.owner == owner and r.name == name), None)

    async def count_for_owner(self, conn: FakeStore, owner: Owner) -> int:
        assert conn._open, "counted outside the transaction that stores the server"
        self.counted_inside_a_transaction += 1
        return sum(1 for r in self.servers.values() if r.owner == owner)

    async def insert(self, conn: FakeStore, record: ServerRecord) -> None:
        assert conn._open
        self.servers[record.id] = record

    async def update(self, conn: FakeStore, record: ServerRecord, *, expected_version: int) -> None:
        assert conn._open
        current = self.servers.get(record.id)
        if current is None or current.owner != record.owner or current.version != expected_version:
            raise StaleUpdate(record.id)
        self.servers[record.id] = record

    async def delete(self, conn: FakeStore, owner: Owner, server_id: str) -> None:
        assert conn._open
        if (record := self.servers.get(server_id)) is not None and record.owner == owner:
            del self.servers[server_id]

    async def insert_pending(self, conn: FakeStore, change: PendingChange) -> None:
        self.pending[change.id] = change

    async def peek_pending(self, change_id: str) -> PendingChange | None:
        return self.pending.get(change_id)

    async def purge_pending_before(self, conn: FakeStore, cutoff: float) -> None:
        return None

    async def take_pending(self, conn: FakeStore, change_id: str, *, owner: Owner | None = None) -> Any:
        change = self.pending.get(change_id)
        if change is not None and (owner is None or change.owner == owner):
            del self.pending[change_id]
        return change

    # AuditLog
    async def append(self, conn: FakeStore, **entry: Any) -> None:
        assert conn._open, "audited outside a transaction"
        self.audit.append(entry)

    async def record(self, **entry: Any) -> None:
        async with self.transaction():
            self.audit.append(entry)

    async def record_denied(self, *, owner: Owner, actor: Owner, server_name: str | None, reason: str) -> None:
        await self.record(owner=owner, actor=actor, action="denied", server_name=server_name, detail={"reason": reason})


class FakeSessions:
    """The SessionManager: remembers what it was told to run, stop or forget; tools answer from `results`."""

    def __init__(self) -> None:
        self.running: dict[str, ServerRecord] = {}
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.forgotten: list[str] = []
        self.refused: dict[str, str] = {}
        self.statuses: dict[str, ServerStatus] = {}
        self.results: dict[str, types.CallToolResult | Exception] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def status(self, server_id: str) -> ServerStatus:
        return self.statuses.get(server_id, STOPPED)

    async def apply_diff(self, diff: ServerDiff) -> None:
        for server_id in diff.stop:
            await self.stop(server_id)
        for record in diff.start:
            await self.start(record)
        for record in diff.restart:
            await self.restart(record)

    async def start(self, record: ServerRecord) -> None:
        self.started.append(record.name)
        self.running[record.id] = record

    async def restart(self, record: ServerRecord) -> None:
        await self.start(record)

    async def stop(self, server_id: str) -> None:
        self.stopped.append(server_id)
        self.running.pop(server_id, None)

    async def refuse(self, record: ServerRecord, reason: str) -> None:
        self.refused[record.name] = reason

    async def forget(self, record: ServerRecord) -> None:
        self.forgotten.append(record.id)
        self.running.pop(record.id, None)

    async def wait_settled(self, server_id: str, timeout: float) -> ServerStatus:
        return self.status(server_id)

    def notice(self, record: ServerRecord) -> str | None:
        return None

    async def call_tool(self, server_id: str, tool_name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        self.calls.append((server_id, tool_name, arguments))
        result = self.results.get(tool_name, LookupError("not running"))
        if isinstance(result, Exception):
            raise result
        return result


class FakeGate:
    """The ServerGate: allows everything except the commands and URLs in `refused` (the admin policy)."""

    def __init__(self) -> None:
        self.refused: set[str] = set()

    def check(self, config: LocalServerConfig | RemoteServerConfig) -> RunConditions | None:
        what = config.url if isinstance(config, RemoteServerConfig) else config.command
        if what in self.refused:
            field = "url" if isinstance(config, RemoteServerConfig) else "command"
            raise InvalidConfig.single(field, f"`{what}` is not allowed by your admin.")
        return None

    def hidden_paths(self, config: LocalServerConfig) -> tuple[str, ...]:
        return ()


class FakeMirror:
    """The ConfigMirror: the last records written per owner."""

    def __init__(self) -> None:
        self.written: dict[str, list[ServerRecord]] = {}

    def write(self, owner: Owner, records: list[ServerRecord]) -> None:
        self.written[owner.id] = list(records)

    def sync(self, owner: Owner, records: list[ServerRecord]) -> bool:
        """Like the real mirror, writes only when the files would change (compared by server names here)."""
        before = [r.name for r in self.written.get(owner.id, [])]
        self.written[owner.id] = list(records)
        return before != [r.name for r in records]


@dataclass
class ServerWorld:
    """A ServerService wired to the fakes above (and a real, in-memory ToolRegistry)."""

    store: FakeStore = field(default_factory=FakeStore)
    sessions: FakeSessions = field(default_factory=FakeSessions)
    gate: FakeGate = field(default_factory=FakeGate)
    mirror: FakeMirror = field(default_factory=FakeMirror)
    registry: ToolRegistry = field(default_factory=ToolRegistry)
    limit: int = 20

    @cached_property
    def service(self) -> ServerService:
        fake: Any = self.store
        return ServerService(
            fake,
            fake,
            fake,
            cast(Any, self.mirror),
            cast(Any, self.sessions),
            self.registry,
            cast(Any, self.gate),
            max_servers_per_owner=self.limit,
        )


class FakeTokenStorage:
    """One server's OAuth tokens and client registration (the SDK's TokenStorage), kept in a FakeCredentials."""

    def __init__(self, store: FakeCredentials, key: tuple[str, str]) -> None:
        self._store, self._key = store, key

    async def get_tokens(self) -> OAuthToken | None:
        return self._store.tokens.get(self._key)

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self._store.tokens[self._key] = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self._store.clients.get(self._key)

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._store.clients[self._key] = client_info


class FakeCredentials:
    """The OAuthCredentialStore, keyed by (owner id, server id)."""

    def __init__(self) -> None:
        self.tokens: dict[tuple[str, str], OAuthToken] = {}
        self.clients: dict[tuple[str, str], OAuthClientInformationFull] = {}

    def for_server(self, owner: Owner, server_id: str, resource: str | None = None) -> FakeTokenStorage:
        return FakeTokenStorage(self, (owner.id, server_id))

    async def has_tokens(self, owner: Owner, server_id: str) -> bool:
        return (owner.id, server_id) in self.tokens


class FakeNotifier:
    """The ConnectorNotifier: every message it was asked to send, in order; `next()` waits (bounded) for one."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, object]] = []
        self._arrived = asyncio.Condition()

    async def next(self, timeout: float = 5.0) -> tuple[str, str, object]:
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: bool(self.sent))
            return self.sent.pop(0)

    async def _send(self, kind: str, record: ServerRecord, what: object) -> None:
        async with self._arrived:
            self.sent.append((kind, record.name, what))
            self._arrived.notify_all()

    async def sign_in_link(self, record: ServerRecord, start_url: str, authorization_host: str) -> None:
        await self._send("sign_in_link", record, authorization_host)

    async def connected(self, record: ServerRecord, status: ServerStatus, tool_names: list[str]) -> None:
        await self._send("connected", record, tool_names)

    async def failed(self, record: ServerRecord, reason: str) -> None:
        await self._send("failed", record, reason)

    async def reauth_needed(self, record: ServerRecord) -> None:
        await self._send("reauth_needed", record, None)


class FakeClock:
    """A clock the test moves by hand (`clock.now += 61`), for code that takes a `clock` callable."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
