"""Pending whole-file changes in SQLite: what was shown in plain JSON, the env values encrypted per batch."""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from app.domain.config_batch import BatchItem, ImportPlan, PendingBatch, Source
from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.security.crypto import SecretBox
from app.store.database import Database


class PendingBatchRepository:
    def __init__(self, db: Database, box: SecretBox) -> None:
        self._db = db
        self._box = box

    async def insert(self, conn: aiosqlite.Connection, batch: PendingBatch) -> None:
        body, secrets = _split(batch)
        sealed = self._box.encrypt(json.dumps(secrets), context=_context(batch.owner, batch.id)) if secrets else None
        await conn.execute(
            "INSERT INTO pending_batches (id, owner_id, enterprise_id, team_id, user_id, source, body_json, "
            "secrets_enc, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                batch.id,
                batch.owner.id,
                batch.owner.enterprise_id,
                batch.owner.team_id,
                batch.owner.user_id,
                batch.source,
                json.dumps(body, sort_keys=True),
                sealed,
                batch.created_at,
            ),
        )

    async def peek(self, batch_id: str) -> PendingBatch | None:
        row = await self._db.fetch_one("SELECT * FROM pending_batches WHERE id = ?", (batch_id,))
        return self._batch(row) if row else None

    async def take(self, conn: aiosqlite.Connection, batch_id: str) -> PendingBatch | None:
        """Read and delete in the caller's transaction: a batch is confirmed or discarded once."""
        async with conn.execute("SELECT * FROM pending_batches WHERE id = ?", (batch_id,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        await conn.execute("DELETE FROM pending_batches WHERE id = ?", (batch_id,))
        return self._batch(row)

    async def drop_for_owner(self, conn: aiosqlite.Connection, owner: Owner, source: Source) -> None:
        await conn.execute("DELETE FROM pending_batches WHERE owner_id = ? AND source = ?", (owner.id, source))

    async def purge_before(self, conn: aiosqlite.Connection, cutoff: float) -> None:
        await conn.execute("DELETE FROM pending_batches WHERE created_at < ?", (cutoff,))

    def _batch(self, row: aiosqlite.Row) -> PendingBatch:
        owner = Owner(enterprise_id=row["enterprise_id"], team_id=row["team_id"], user_id=row["user_id"])
        secrets: dict[str, dict[str, str]] = {}
        if row["secrets_enc"]:
            secrets = json.loads(self._box.decrypt(row["secrets_enc"], context=_context(owner, row["id"])))
        body: dict[str, Any] = json.loads(row["body_json"])
        plan = body["plan"]
        for key in ("items", "removals"):
            for index, item in enumerate(plan[key]):
                if item.get("config") is not None:
                    item["config"] = LocalServerConfig.from_public(item["config"], secrets.get(f"{key}.{index}", {}))
        return PendingBatch(
            id=row["id"],
            owner=owner,
            source=row["source"],
            filename=body["filename"],
            kind=body["kind"],
            plan=ImportPlan.model_validate(plan),
            created_at=row["created_at"],
        )


def _split(batch: PendingBatch) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The batch as JSON without secret values, and the values keyed by item position."""
    secrets: dict[str, dict[str, str]] = {}
    plan = batch.plan.model_dump(mode="json")
    for key in ("items", "removals"):
        items: tuple[BatchItem, ...] = getattr(batch.plan, key)
        for index, item in enumerate(items):
            if item.config is not None:
                plan[key][index]["config"] = item.config.public_dict()
                if values := item.config.secret_values():
                    secrets[f"{key}.{index}"] = values
    return {"filename": batch.filename, "kind": batch.kind, "plan": plan}, secrets


def _context(owner: Owner, batch_id: str) -> str:
    return f"batch|{owner.id}|{batch_id}|env"
