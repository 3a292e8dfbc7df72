"""Use cases for an owner's servers: propose, confirm, edit, enable/disable, remove, reload.

Every change goes: validate -> pending change (nothing runs) -> owner confirms -> one transaction
(server row + audit entry) -> mirror file rewritten -> only the affected server is started/stopped.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiosqlite

from app.domain.errors import (
    ChangeExpired,
    InvalidConfig,
    NotYourServer,
    PlugboardError,
    ServerLimitReached,
    ServerNameTaken,
    ServerNotFound,
)
from app.domain.local_config import LocalServerConfig, with_paths_moved
from app.domain.names import server_name_problem
from app.domain.owner import Owner
from app.domain.placeholders import plain_text_problem, unresolved_problem
from app.domain.registered_tool import RegisteredTool
from app.domain.server import PENDING_CHANGE_TTL_SECONDS, PendingChange, ServerRecord, diff_servers
from app.domain.server_config import ServerConfig, summary
from app.domain.status import DISABLED, STOPPED, ServerStatus, idle
from app.runtime.sandbox_mounts import WORKSPACE
from app.runtime.session_manager import SessionManager
from app.runtime.tool_registry import ToolRegistry
from app.services.local_gate import RunConditions
from app.services.owner_locks import OwnerLocks
from app.services.server_gate import ServerGate
from app.store.audit_log import AuditLog
from app.store.config_mirror import ConfigMirror
from app.store.database import Database
from app.store.server_repository import ServerRepository, records_without_secrets
from app.store.tool_catalog import ToolCatalog

T = TypeVar("T")


@dataclass(frozen=True)
class ServerOverview:
    record: ServerRecord
    status: ServerStatus
    tools: list[RegisteredTool]

    @property
    def is_local(self) -> bool:
        return isinstance(self.record.config, LocalServerConfig)


MIRROR_PAGE_OWNERS = 500  # owners read per page at start-up (a page of rows is read under the GIL at once)


class ServerService:
    def __init__(
        self,
        db: Database,
        repo: ServerRepository,
        audit: AuditLog,
        mirror: ConfigMirror,
        sessions: SessionManager,
        registry: ToolRegistry,
        gate: ServerGate,
        max_servers_per_owner: int = 20,
        clock: Callable[[], float] = time.time,
        catalog: ToolCatalog | None = None,
        # One worker thread: the rewrite is CPU work under the GIL, and each more thread makes the event loop
        # (acks, /healthz) wait longer for its turn; one keeps its waits at a switch interval (5 ms).
        mirror_concurrency: int = 1,
    ) -> None:
        self._catalog = catalog
        self._mirror_concurrency = mirror_concurrency
        self._syncing = 0
        self._changed_while_syncing: set[str] = set()
        self._db = db
        self._repo = repo
        self._audit = audit
        self._mirror = mirror
        self._sessions = sessions
        self._registry = registry
        self._gate = gate
        self._max_servers = max_servers_per_owner
        self._clock = clock
        self._locks = OwnerLocks()

    # -- reading -----------------------------------------------------------------------------

    async def overview(self, owner: Owner) -> list[ServerOverview]:
        records = await self._repo.list_for_owner(owner)
        counts = await self._tool_counts(owner)
        return [self._overview(record, counts) for record in records]

    async def get(self, owner: Owner, name: str) -> ServerOverview:
        record = await self._repo.get_by_name(owner, name)
        if record is None:
            raise ServerNotFound(name)
        return self._overview(record, await self._tool_counts(owner))

    async def owned(self, owner: Owner, server_id: str) -> ServerRecord:
        """The server with this id, only if `owner` owns it (ids in Slack payloads are attacker-controlled)."""
        record = await self._repo.get(server_id)
        if record is None:
            raise ServerNotFound(server_id[:12])
        if record.owner != owner:
            await self._audit.record_denied(
                owner=record.owner, actor=owner, server_name=record.name, reason="not the owner"
            )
            raise NotYourServer()
        return record

    async def pending(self, owner: Owner, change_id: str) -> PendingChange:
        change = await self._repo.peek_pending(change_id)
        if change is None or change.expired(self._clock()):
            raise ChangeExpired()
        if change.owner != owner:
            await self._audit.record_denied(
                owner=change.owner, actor=owner, server_name=change.name, reason="not the owner of this confirmation"
            )
            raise NotYourServer()
        return change

    def _overview(self, record: ServerRecord, counts: dict[str, int]) -> ServerOverview:
        status = self._sessions.status(record.id) if record.enabled else DISABLED
        if status == STOPPED and record.approved:  # stored, not running: it starts on first use, if it may
            try:
                self._gate.check(record.config)
                status = idle(counts.get(record.id))
            except InvalidConfig as exc:  # the policy changed since it was approved: say why it will not start
                status = ServerStatus("error", "; ".join(exc.problems.values()))
        return ServerOverview(record, status, self._registry.for_server(record.owner, record.id))

    async def _tool_counts(self, owner: Owner) -> dict[str, int]:
        return await self._catalog.tool_counts(owner) if self._catalog is not None else {}

    async def ensure_started(self, record: ServerRecord, timeout: float) -> ServerStatus:
        """First use of a stored server: start it if it is enabled, approved and the policy lets it run, and wait
        (bounded) until that start settles. A running server is only marked as used."""
        if not record.enabled:
            return DISABLED
        if not self._sessions.is_live(record.id) and not await self._runnable([record]):
            return self._sessions.status(record.id)  # refused by the policy (its status says why), or unapproved
        return await self._sessions.ensure_started(record, timeout)

    # -- proposing (nothing runs) ------------------------------------------------------------

    def conditions(self, config: ServerConfig) -> RunConditions | None:
        """How a local config would run (sandbox, network, risk flags); raises InvalidConfig if not allowed."""
        return self._gate.check(config)

    async def propose_add(self, owner: Owner, name: str, config: ServerConfig) -> PendingChange:
        """One new server; a full owner is told at once (on the form's name field). Confirming checks again."""
        existing = await self._repo.list_for_owner(owner)
        self._check_new(name, config, existing)
        if len(existing) >= self._max_servers:
            full = ServerLimitReached.adding_servers(have=len(existing), adding=1, limit=self._max_servers)
            raise InvalidConfig.single("name", str(full))
        return await self._store_pending(owner, "add", name, config, server_id=None, base_version=None)

    async def propose_adds(self, owner: Owner, configs: Mapping[str, ServerConfig]) -> list[PendingChange]:
        """Several new servers shown together (e.g. a pasted `mcpServers` map): refused whole when they do not all
        fit under the owner's server limit, never trimmed."""
        existing = await self._repo.list_for_owner(owner)
        for name, config in configs.items():
            self._check_new(name, config, existing)
        if len(existing) + len(configs) > self._max_servers:
            raise ServerLimitReached.adding_servers(
                have=len(existing), adding=len(configs), limit=self._max_servers, what="This config"
            )
        return [
            await self._store_pending(owner, "add", name, config, server_id=None, base_version=None)
            for name, config in configs.items()
        ]

    def _check_new(self, name: str, config: ServerConfig, existing: list[ServerRecord]) -> None:
        if problem := server_name_problem(name):
            raise InvalidConfig.single("name", problem)
        if any(s.name == name for s in existing):
            raise ServerNameTaken(name)
        self._gate.check(config)
        _no_placeholders(config)

    async def propose_edit(self, owner: Owner, server_id: str, config: ServerConfig) -> PendingChange | None:
        """None when nothing that runs has changed."""
        record = await self.owned(owner, server_id)
        if not config.runtime_differs_from(record.config):
            return None
        self._gate.check(config)
        _no_placeholders(config)
        return await self._store_pending(owner, "edit", record.name, config, record.id, record.version)

    async def _store_pending(
        self,
        owner: Owner,
        kind: str,
        name: str,
        config: ServerConfig,
        server_id: str | None,
        base_version: int | None,
    ) -> PendingChange:
        now = self._clock()
        change = PendingChange(
            id=secrets.token_urlsafe(16),
            owner=owner,
            kind=kind,
            name=name,
            config=config,
            server_id=server_id,
            base_version=base_version,
            created_at=now,
        )
        async with self._db.transaction() as conn:
            await self._repo.purge_pending_before(conn, now - PENDING_CHANGE_TTL_SECONDS)
            await self._repo.insert_pending(conn, change)
        return change

    # -- committing --------------------------------------------------------------------------

    async def confirm(self, owner: Owner, change_id: str) -> ServerRecord:
        [outcome] = await self.confirm_all(owner, [change_id])
        if isinstance(outcome, PlugboardError):
            raise outcome
        return outcome

    async def confirm_all(self, owner: Owner, change_ids: list[str]) -> list[ServerRecord | PlugboardError]:
        """Apply changes the owner confirmed together, in one transaction; each one is stored or says why not.

        The server limit is checked on the servers counted inside that transaction, so confirmations clicked at
        the same moment (or an admin tool writing meanwhile) cannot pass it together. When the adds among these
        changes do not all fit, none of the changes is applied (ServerLimitReached) and they stay confirmable."""
        async with self._locks(owner):
            before = await self._snapshot(owner)
            async with self._db.transaction() as conn:
                taken = [await self._take(conn, owner, change_id) for change_id in change_ids]
                adds = sum(1 for change in taken if isinstance(change, PendingChange) and change.kind == "add")
                if adds:
                    have = await self._repo.count_for_owner(conn, owner)
                    if have + adds > self._max_servers:
                        raise ServerLimitReached.adding_servers(
                            have=have, adding=adds, limit=self._max_servers, what="This confirmation"
                        )
                names = {record.name for record in before.values()}
                outcomes: list[ServerRecord | PlugboardError] = []
                for change in taken:
                    if isinstance(change, PlugboardError):
                        outcomes.append(change)
                        continue
                    try:
                        # Each check below comes before anything is written for this change.
                        outcomes.append(await self._store(conn, owner, change, before, names))
                    except PlugboardError as exc:
                        outcomes.append(exc)
            if any(isinstance(outcome, ServerRecord) for outcome in outcomes):
                await self._committed(owner, before)
        return outcomes

    async def _take(self, conn: aiosqlite.Connection, owner: Owner, change_id: str) -> PendingChange | PlugboardError:
        change = await self._repo.take_pending(conn, change_id, owner=owner)  # someone else's stays untouched
        if change is None or change.expired(self._clock()):
            return ChangeExpired()
        if change.owner != owner:
            return NotYourServer()
        return change

    async def _store(
        self,
        conn: aiosqlite.Connection,
        owner: Owner,
        change: PendingChange,
        before: dict[str, ServerRecord],
        names: set[str],
    ) -> ServerRecord:
        self._gate.check(change.config)  # the policy may have changed since it was shown
        now = self._clock()
        if change.kind == "add":
            if change.name in names:
                raise ServerNameTaken(change.name)
            record = ServerRecord.approved_new(owner, change.name, change.config, enabled=True, now=now)
            await self._repo.insert(conn, record)
            names.add(record.name)
        else:
            current = before.get(change.server_id or "")
            if current is None:
                raise ServerNotFound(change.name)
            if current.version != change.base_version:
                raise ChangeExpired()  # someone changed it since this confirmation was shown
            record = current.model_copy(
                update={
                    "config": change.config,
                    "approved_hash": change.config.approval_hash(),
                    "version": current.version + 1,
                    "updated_at": now,
                }
            )
            await self._repo.update(conn, record, expected_version=current.version)
        await self._audit.append(
            conn,
            owner=owner,
            action=f"approved_{change.kind}",
            server_name=record.name,
            detail={"config_sha256": record.approved_hash, "summary": summary(record.config)},
        )
        return record

    async def propose_in_workspace(self, owner: Owner, change_id: str) -> PendingChange:
        """The pending change again, with its folder arguments that the sandbox does not show pointed at the owner's
        workspace instead; the old one is withdrawn. Still only a proposal: the owner confirms the new card."""
        change = await self.pending(owner, change_id)
        config = change.config
        if not isinstance(config, LocalServerConfig) or not (hidden := self._gate.hidden_paths(config)):
            raise InvalidConfig.single("args", "Nothing to change: every folder in the arguments is visible.")
        moved = with_paths_moved(config, hidden, WORKSPACE)
        self._gate.check(moved)
        await self.cancel(owner, change_id)
        return await self._store_pending(owner, change.kind, change.name, moved, change.server_id, change.base_version)

    async def cancel(self, owner: Owner, change_id: str) -> None:
        async with self._db.transaction() as conn:
            change = await self._repo.take_pending(conn, change_id)
            if change is not None and change.owner != owner:
                raise NotYourServer()

    async def set_enabled(self, owner: Owner, server_id: str, enabled: bool) -> ServerRecord:
        async with self._locks(owner):
            before = await self._snapshot(owner)
            current = await self.owned(owner, server_id)
            if current.enabled == enabled:
                return current
            record = current.model_copy(
                update={"enabled": enabled, "version": current.version + 1, "updated_at": self._clock()}
            )
            async with self._db.transaction() as conn:
                await self._repo.update(conn, record, expected_version=current.version)
                await self._audit.append(
                    conn, owner=owner, action="enabled" if enabled else "disabled", server_name=record.name
                )
            await self._committed(owner, before)
        return record

    async def remove(self, owner: Owner, server_id: str) -> ServerRecord:
        async with self._locks(owner):
            before = await self._snapshot(owner)
            record = await self.owned(owner, server_id)
            async with self._db.transaction() as conn:
                await self._repo.delete(conn, owner, server_id)
                await self._audit.append(conn, owner=owner, action="removed", server_name=record.name)
            await self._committed(owner, before)
            await self._sessions.forget(record)
        return record

    async def records(self, owner: Owner) -> list[ServerRecord]:
        return await self._repo.list_for_owner(owner)

    async def apply_change(
        self, owner: Owner, change: Callable[[aiosqlite.Connection, dict[str, ServerRecord]], Awaitable[T]]
    ) -> T:
        """One read-modify-write of an owner's servers (e.g. a whole confirmed file): `change` gets the
        transaction and the servers before it; afterwards the mirror is rewritten and only what changed reloads."""
        async with self._locks(owner):
            before = await self._snapshot(owner)
            async with self._db.transaction() as conn:
                result = await change(conn, before)
            await self._committed(owner, before)
        return result

    async def rewrite_mirror(self, owner: Owner) -> None:
        """Put the owner's files back as the database says (e.g. after a refused edit on disk)."""
        async with self._locks(owner):
            await self._write_mirror(owner)

    async def enforce_revocation(self, owner: Owner, server_id: str) -> None:
        """An admin disabled this server outside the app (admin CLI): stop it if it still runs."""
        async with self._locks(owner):
            record = await self._repo.get(server_id)
            if record is not None and record.owner != owner:
                return
            await self._write_mirror(owner)
            self._registry.touch(owner)  # cached lookups of this owner's servers are stale now
            if record is None or not record.enabled:
                await self._sessions.stop(server_id)

    async def reload(self, owner: Owner, name: str | None = None) -> list[ServerRecord]:
        """Restart the owner's enabled servers (or one of them), e.g. after installing something they need."""
        records = [r for r in await self._repo.list_for_owner(owner) if r.enabled and (name is None or r.name == name)]
        if name is not None and not records:
            existing = await self._repo.get_by_name(owner, name)
            if existing is None:
                raise ServerNotFound(name)
        await asyncio.gather(*(self._sessions.restart(r) for r in await self._runnable(records)))
        return records

    async def wait_settled(self, server_id: str, timeout: float) -> ServerStatus:
        return await self._sessions.wait_settled(server_id, timeout)

    async def restore(self) -> int:
        """After a restart of the app: nothing is started (servers start on first use); mirror files that differ
        from the database are rewritten in the background. Returns how many enabled servers are stored."""
        enabled = await self._repo.count_enabled()
        await self.sync_mirrors()
        return enabled

    async def sync_mirrors(self, rows_per_batch: int = 150) -> int:
        """Rewrite every owner's mirror files that differ from the database, off the event loop, a few batches at
        a time; nothing is decrypted (the files never hold a secret). Returns how many owners' files were rewritten.

        An owner whose servers change meanwhile is skipped: that change writes their files itself."""
        self._syncing += 1
        limit = asyncio.Semaphore(self._mirror_concurrency)

        async def one(batch: list[Any]) -> int:
            async with limit:
                return await asyncio.to_thread(self._sync_batch, batch)

        rewritten, last_owner = 0, ""
        try:
            while rows := await self._repo.public_rows(after_owner=last_owner, owners=MIRROR_PAGE_OWNERS):
                last_owner = rows[-1]["owner_id"]
                batches: list[list[Any]] = []
                for row in rows:  # batches end on an owner's last row (rows come ordered by owner)
                    if not batches or (
                        len(batches[-1]) >= rows_per_batch and batches[-1][-1]["owner_id"] != row["owner_id"]
                    ):
                        batches.append([])
                    batches[-1].append(row)
                rewritten += sum(await asyncio.gather(*(one(batch) for batch in batches)))
            return rewritten
        finally:
            self._syncing -= 1
            if not self._syncing:
                self._changed_while_syncing.clear()

    def _sync_batch(self, rows: list[Any]) -> int:
        """In a worker thread: build each owner's records from the public rows and rewrite what differs."""
        rewritten = 0
        for owner, records in records_without_secrets(rows):
            if owner.id in self._changed_while_syncing:
                continue
            rewritten += self._mirror.sync(owner, records)
        return rewritten

    async def _runnable(self, records: tuple[ServerRecord, ...] | list[ServerRecord]) -> list[ServerRecord]:
        """The approved records the admin policy lets run now; a refused one gets the reason as its status."""
        runnable: list[ServerRecord] = []
        for record in records:
            if not record.approved:
                continue
            try:
                self._gate.check(record.config)
            except InvalidConfig as exc:
                await self._sessions.refuse(record, "; ".join(exc.problems.values()))
                continue
            runnable.append(record)
        return runnable

    async def _snapshot(self, owner: Owner) -> dict[str, ServerRecord]:
        return {r.id: r for r in await self._repo.list_for_owner(owner)}

    async def _committed(self, owner: Owner, before: dict[str, ServerRecord]) -> None:
        after = await self._snapshot(owner)
        await self._write_mirror(owner, list(after.values()))
        self._registry.touch(owner)  # the assistant's per-thread tool lists are rebuilt on their next turn
        diff = diff_servers(before, after)
        # Never run a config its owner has not approved, whatever the diff says.
        await self._sessions.apply_diff(
            type(diff)(
                start=tuple(await self._runnable(diff.start)),
                stop=diff.stop,
                restart=tuple(await self._runnable(diff.restart)),
            )
        )

    async def _write_mirror(self, owner: Owner, records: list[ServerRecord] | None = None) -> None:
        if self._syncing:
            self._changed_while_syncing.add(owner.id)
        if records is None:
            records = await self._repo.list_for_owner(owner)
        await asyncio.to_thread(self._mirror.write, owner, records)


def _no_placeholders(config: ServerConfig) -> None:
    """A `${secret:…}`/`${input:…}` left in a new config has no value behind it: ask for one."""
    if isinstance(config, LocalServerConfig) and (problem := unresolved_problem(config)):
        raise InvalidConfig.single("args" if plain_text_problem(config) else "env", problem)
