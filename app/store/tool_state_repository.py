"""Stored tool decisions (allowed / denied / held) with the pin each was made for."""

from __future__ import annotations

import time

from app.domain.owner import Owner
from app.domain.tool_policy import StoredDecision, ToolDecision
from app.store.database import Database


class ToolStateRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def for_server(self, server_id: str) -> dict[str, StoredDecision]:
        rows = await self._db.fetch_all("SELECT * FROM tool_states WHERE server_id = ?", (server_id,))
        return {r["tool_name"]: StoredDecision(r["state"], r["pin"], r["reason"]) for r in rows}

    async def for_owner(self, owner: Owner) -> dict[str, dict[str, StoredDecision]]:
        """Every stored decision of the owner, by server id and tool name."""
        rows = await self._db.fetch_all("SELECT * FROM tool_states WHERE owner_id = ?", (owner.id,))
        decisions: dict[str, dict[str, StoredDecision]] = {}
        for r in rows:
            decisions.setdefault(r["server_id"], {})[r["tool_name"]] = StoredDecision(r["state"], r["pin"], r["reason"])
        return decisions

    async def replace_for_server(self, owner: Owner, server_id: str, decisions: list[ToolDecision]) -> None:
        """The server's current tool list wins: tools it no longer offers are forgotten."""
        now = time.time()
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM tool_states WHERE server_id = ?", (server_id,))
            await conn.executemany(
                "INSERT INTO tool_states (owner_id, server_id, tool_name, state, pin, reason, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(owner.id, server_id, d.name, d.state, d.pin, d.reason, now) for d in decisions],
            )

    async def set_state(self, owner: Owner, server_id: str, tool_name: str, state: str, pin: str, reason: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO tool_states (owner_id, server_id, tool_name, state, pin, reason, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (server_id, tool_name) DO UPDATE SET "
                "state = excluded.state, pin = excluded.pin, reason = excluded.reason, "
                "updated_at = excluded.updated_at",
                (owner.id, server_id, tool_name, state, pin, reason, time.time()),
            )

    async def delete_server(self, server_id: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM tool_states WHERE server_id = ?", (server_id,))
