"""Servers and pending changes in SQLite; env values are encrypted per row."""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from app.domain.owner import Owner
from app.domain.server import PendingChange, ServerRecord
from app.domain.server_config import ServerConfig, config_from_public
from app.security.crypto import SecretBox
from app.store.database import Database


class StaleUpdate(Exception):
    """The row changed since it was read; the caller re-reads and retries or reports."""


class ServerRepository:
    def __init__(self, db: Database, box: SecretBox) -> None:
        self._db = db
        self._box = box

    # -- servers ---------------------------------------------------------------------------

    async def list_for_owner(self, owner: Owner) -> list[ServerRecord]:
        rows = await self._db.fetch_all("SELECT * FROM servers WHERE owner_id = ? ORDER BY name", (owner.id,))
        return [self._server(row) for row in rows]

    async def list_enabled(self) -> list[ServerRecord]:
        rows = await self._db.fetch_all("SELECT * FROM servers WHERE enabled = 1 ORDER BY owner_id, name")
        return [self._server(row) for row in rows]

    async def count_enabled(self) -> int:
        row = await self._db.fetch_one("SELECT COUNT(*) AS n FROM servers WHERE enabled = 1")
        return int(row["n"]) if row else 0

    async def public_rows(self, *, after_owner: str = "", owners: int | None = None) -> list[aiosqlite.Row]:
        """Servers' rows without their sealed secrets, grouped by owner (whole owners only), for owners after
        `after_owner`, at most `owners` of them; turn them into records with `records_without_secrets`, off the
        event loop when there are many. Paging keeps each read short: building tens of thousands of rows at once
        holds the GIL long enough to stall the event loop."""
        limit = (
            ""
            if owners is None
            else " AND owner_id IN (SELECT DISTINCT owner_id FROM servers WHERE owner_id > ? ORDER BY owner_id LIMIT ?)"
        )
        params: tuple[object, ...] = (after_owner,) if owners is None else (after_owner, after_owner, owners)
        return await self._db.fetch_all(
            "SELECT id, owner_id, enterprise_id, team_id, user_id, name, config_json, enabled, approved_hash, version, "
            f"created_at, updated_at FROM servers WHERE owner_id > ?{limit} ORDER BY owner_id, name",
            params,
        )

    async def list_owners(self) -> list[Owner]:
        rows = await self._db.fetch_all("SELECT DISTINCT enterprise_id, team_id, user_id FROM servers")
        return [Owner(enterprise_id=r["enterprise_id"], team_id=r["team_id"], user_id=r["user_id"]) for r in rows]

    async def get_by_name(self, owner: Owner, name: str) -> ServerRecord | None:
        row = await self._db.fetch_one("SELECT * FROM servers WHERE owner_id = ? AND name = ?", (owner.id, name))
        return self._server(row) if row else None

    async def get(self, server_id: str) -> ServerRecord | None:
        row = await self._db.fetch_one("SELECT * FROM servers WHERE id = ?", (server_id,))
        return self._server(row) if row else None

    async def count_for_owner(self, conn: aiosqlite.Connection, owner: Owner) -> int:
        """Counted inside the caller's transaction, so a limit checked on it holds when that transaction commits."""
        async with conn.execute("SELECT COUNT(*) FROM servers WHERE owner_id = ?", (owner.id,)) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def insert(self, conn: aiosqlite.Connection, record: ServerRecord) -> None:
        await conn.execute(
            "INSERT INTO servers (id, owner_id, enterprise_id, team_id, user_id, name, transport, config_json, "
            "secrets_enc, enabled, approved_hash, version, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.owner.id,
                record.owner.enterprise_id,
                record.owner.team_id,
                record.owner.user_id,
                record.name,
                record.config.type,
                _public_json(record.config),
                self._seal(record.config, _server_context(record.owner, record.id)),
                int(record.enabled),
                record.approved_hash,
                record.version,
                record.created_at,
                record.updated_at,
            ),
        )

    async def update(self, conn: aiosqlite.Connection, record: ServerRecord, *, expected_version: int) -> None:
        cursor = await conn.execute(
            "UPDATE servers SET name = ?, transport = ?, config_json = ?, secrets_enc = ?, enabled = ?, "
            "approved_hash = ?, version = ?, updated_at = ? WHERE id = ? AND owner_id = ? AND version = ?",
            (
                record.name,
                record.config.type,
                _public_json(record.config),
                self._seal(record.config, _server_context(record.owner, record.id)),
                int(record.enabled),
                record.approved_hash,
                record.version,
                record.updated_at,
                record.id,
                record.owner.id,
                expected_version,
            ),
        )
        if cursor.rowcount != 1:
            raise StaleUpdate(record.id)

    async def delete(self, conn: aiosqlite.Connection, owner: Owner, server_id: str) -> None:
        await conn.execute("DELETE FROM servers WHERE id = ? AND owner_id = ?", (server_id, owner.id))
        await conn.execute("DELETE FROM tool_states WHERE server_id = ? AND owner_id = ?", (server_id, owner.id))
        await conn.execute("DELETE FROM tool_catalog WHERE server_id = ? AND owner_id = ?", (server_id, owner.id))
        await conn.execute(
            "DELETE FROM tool_catalog_listings WHERE server_id = ? AND owner_id = ?", (server_id, owner.id)
        )
        await conn.execute("DELETE FROM oauth_credentials WHERE server_id = ? AND owner_id = ?", (server_id, owner.id))

    # -- pending changes -------------------------------------------------------------------

    async def insert_pending(self, conn: aiosqlite.Connection, change: PendingChange) -> None:
        await conn.execute(
            "INSERT INTO pending_changes (id, owner_id, enterprise_id, team_id, user_id, kind, name, server_id, "
            "base_version, config_json, secrets_enc, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                change.id,
                change.owner.id,
                change.owner.enterprise_id,
                change.owner.team_id,
                change.owner.user_id,
                change.kind,
                change.name,
                change.server_id,
                change.base_version,
                _public_json(change.config),
                self._seal(change.config, _pending_context(change.owner, change.id)),
                change.created_at,
            ),
        )

    async def take_pending(
        self, conn: aiosqlite.Connection, change_id: str, *, owner: Owner | None = None
    ) -> PendingChange | None:
        """Read and delete in one transaction: a confirmation can be used once.

        With `owner`, someone else's change is returned (so the caller can refuse it) but not deleted."""
        async with conn.execute("SELECT * FROM pending_changes WHERE id = ?", (change_id,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        change = self._pending(row)
        if owner is None or change.owner == owner:
            await conn.execute("DELETE FROM pending_changes WHERE id = ?", (change_id,))
        return change

    async def peek_pending(self, change_id: str) -> PendingChange | None:
        row = await self._db.fetch_one("SELECT * FROM pending_changes WHERE id = ?", (change_id,))
        return self._pending(row) if row else None

    async def purge_pending_before(self, conn: aiosqlite.Connection, cutoff: float) -> None:
        await conn.execute("DELETE FROM pending_changes WHERE created_at < ?", (cutoff,))

    # -- rows <-> models -------------------------------------------------------------------

    def _seal(self, config: ServerConfig, context: str) -> str | None:
        secrets = config.secret_values()
        if not secrets:
            return None
        return self._box.encrypt(json.dumps(secrets), context=context)

    def _open(self, row: aiosqlite.Row, context: str) -> ServerConfig:
        public: dict[str, Any] = json.loads(row["config_json"])
        values: dict[str, str] = {}
        if row["secrets_enc"]:
            values = json.loads(self._box.decrypt(row["secrets_enc"], context=context))
        return config_from_public(public, values)

    def _server(self, row: aiosqlite.Row) -> ServerRecord:
        owner = _owner(row)
        return ServerRecord(
            id=row["id"],
            owner=owner,
            name=row["name"],
            config=self._open(row, _server_context(owner, row["id"])),
            enabled=bool(row["enabled"]),
            approved_hash=row["approved_hash"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def _pending(self, row: aiosqlite.Row) -> PendingChange:
        owner = _owner(row)
        return PendingChange(
            id=row["id"],
            owner=owner,
            kind=row["kind"],
            name=row["name"],
            config=self._open(row, _pending_context(owner, row["id"])),
            server_id=row["server_id"],
            base_version=row["base_version"],
            created_at=row["created_at"],
        )


_SECRET_SHOWN = "(secret)"  # stands in for every secret value in a record built without decrypting


def records_without_secrets(rows: list[aiosqlite.Row]) -> list[tuple[Owner, list[ServerRecord]]]:
    """Rows from `public_rows` as records whose secret values are placeholders: enough for the mirror files (which
    never show a secret) and listings; never for running a server. Nothing is decrypted."""
    grouped: list[tuple[Owner, list[ServerRecord]]] = []
    for row in rows:
        owner = _owner(row)
        public: dict[str, Any] = json.loads(row["config_json"])
        names = [*public.get("env_names", []), *public.get("secret_names", [])]
        record = ServerRecord(
            id=row["id"],
            owner=owner,
            name=row["name"],
            config=config_from_public(public, dict.fromkeys(names, _SECRET_SHOWN)),
            enabled=bool(row["enabled"]),
            approved_hash=row["approved_hash"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
        if grouped and grouped[-1][0] == owner:
            grouped[-1][1].append(record)
        else:
            grouped.append((owner, [record]))
    return grouped


def _owner(row: aiosqlite.Row) -> Owner:
    return Owner(enterprise_id=row["enterprise_id"], team_id=row["team_id"], user_id=row["user_id"])


def _public_json(config: ServerConfig) -> str:
    return json.dumps(config.public_dict(), sort_keys=True)


def _server_context(owner: Owner, server_id: str) -> str:
    return f"server|{owner.id}|{server_id}|env"


def _pending_context(owner: Owner, change_id: str) -> str:
    return f"pending|{owner.id}|{change_id}|env"
