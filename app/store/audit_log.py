"""Append-only record of config changes and approvals (tool calls join in with the policy work)."""

from __future__ import annotations

import json
import time
from typing import Any

import aiosqlite

from app.domain.audit import AuditEntry
from app.domain.owner import Owner
from app.store.database import Database

__all__ = ["AuditEntry", "AuditLog"]

_INSERT = "INSERT INTO audit_log (at, owner_id, actor_id, action, server_name, detail_json) VALUES (?, ?, ?, ?, ?, ?)"


def _row(
    owner: Owner, action: str, server_name: str | None, detail: dict[str, Any] | None, actor: Owner | None
) -> tuple[object, ...]:
    return (time.time(), owner.id, (actor or owner).id, action, server_name, json.dumps(detail or {}, sort_keys=True))


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(
        self,
        conn: aiosqlite.Connection,
        *,
        owner: Owner,
        action: str,
        server_name: str | None,
        detail: dict[str, Any] | None = None,
        actor: Owner | None = None,
    ) -> None:
        """Written inside the caller's transaction so the entry and the change commit together. Concurrent
        transactions share one COMMIT (group commit), and the caller's `transaction()` returns only after it."""
        await conn.execute(_INSERT, _row(owner, action, server_name, detail, actor))

    async def record(
        self,
        *,
        owner: Owner,
        action: str,
        server_name: str | None,
        detail: dict[str, Any] | None = None,
        actor: Owner | None = None,
    ) -> None:
        """An entry on its own (nothing else changes with it), durable when this returns: a tool result shown
        after this returned has its audit row (docs/scaling.md, "What a crash can lose")."""
        await self._db.write(_INSERT, _row(owner, action, server_name, detail, actor))

    async def record_denied(
        self, *, owner: Owner, actor: Owner, server_name: str | None, reason: str, **context: str
    ) -> None:
        """Someone acted on a server or confirmation that is not theirs: kept in the owner's log (nothing else is
        written on a refusal)."""
        await self.record(owner=owner, actor=actor, action="denied", server_name=server_name, detail={"reason": reason})

    async def recent(self, owner: Owner, limit: int = 20) -> list[AuditEntry]:
        rows = await self._db.fetch_all(
            "SELECT * FROM audit_log WHERE owner_id = ? ORDER BY id DESC LIMIT ?", (owner.id, limit)
        )
        return self._entries(rows)

    async def recent_all(self, limit: int = 20) -> list[AuditEntry]:
        """Everyone's entries, for admins."""
        return self._entries(await self._db.fetch_all("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)))

    @staticmethod
    def _entries(rows: list[Any]) -> list[AuditEntry]:
        return [
            AuditEntry(
                r["at"], r["owner_id"], r["actor_id"], r["action"], r["server_name"], json.loads(r["detail_json"])
            )
            for r in rows
        ]
