"""Each server's last successful tool listing in SQLite: what `/mcp tools`, App Home and the assistant show while the
server is not running. Only definitions and pins; whether a tool is allowed lives in `tool_states`."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import mcp_types as types

from app.domain.owner import Owner
from app.domain.server import ServerRecord
from app.store.database import Database


@dataclass(frozen=True)
class CatalogEntry:
    tool: types.Tool
    pin: str


@dataclass(frozen=True)
class ServerListing:
    """One server's stored tools, in the order the server listed them."""

    server_id: str
    server_name: str
    tools: tuple[CatalogEntry, ...]


class ToolCatalog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def store(self, record: ServerRecord, tools: list[tuple[types.Tool, str]]) -> None:
        """Replace the server's listing with `tools` (each with its pin), in one transaction."""
        rows = [
            (
                record.owner.id,
                record.id,
                position,
                tool.name,
                json.dumps(tool.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=True),
                pin,
            )
            for position, (tool, pin) in enumerate(tools)
        ]
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM tool_catalog WHERE server_id = ?", (record.id,))
            await conn.executemany(
                "INSERT OR REPLACE INTO tool_catalog (owner_id, server_id, position, tool_name, definition_json, pin) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            await conn.execute(
                "INSERT INTO tool_catalog_listings (server_id, owner_id, server_name, approved_hash, listed_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (server_id) DO UPDATE SET server_name = excluded.server_name, "
                "approved_hash = excluded.approved_hash, listed_at = excluded.listed_at",
                (record.id, record.owner.id, record.name, record.approved_hash, time.time()),
            )

    async def for_owner(self, owner: Owner) -> dict[str, ServerListing]:
        """Every listed server of the owner (admin-provided ones included), by server id."""
        listings = await self._db.fetch_all(
            "SELECT server_id, server_name FROM tool_catalog_listings WHERE owner_id = ?", (owner.id,)
        )
        rows = await self._db.fetch_all(
            "SELECT server_id, definition_json, pin FROM tool_catalog WHERE owner_id = ? ORDER BY server_id, position",
            (owner.id,),
        )
        tools: dict[str, list[CatalogEntry]] = {}
        for row in rows:
            tool = types.Tool.model_validate(json.loads(row["definition_json"]))
            tools.setdefault(row["server_id"], []).append(CatalogEntry(tool, row["pin"]))
        return {
            (server_id := row["server_id"]): ServerListing(
                server_id, row["server_name"], tuple(tools.get(server_id, ()))
            )
            for row in listings
        }

    async def tools_of(self, server_id: str) -> list[types.Tool]:
        """The server's stored tools in listing order (none if it never listed)."""
        rows = await self._db.fetch_all(
            "SELECT definition_json FROM tool_catalog WHERE server_id = ? ORDER BY position", (server_id,)
        )
        return [types.Tool.model_validate(json.loads(row["definition_json"])) for row in rows]

    async def tool_counts(self, owner: Owner) -> dict[str, int]:
        """How many tools each listed server of the owner offered last time (0 for an empty listing)."""
        rows = await self._db.fetch_all(
            "SELECT l.server_id AS server_id, COUNT(c.tool_name) AS tools FROM tool_catalog_listings l "
            "LEFT JOIN tool_catalog c ON c.server_id = l.server_id WHERE l.owner_id = ? GROUP BY l.server_id",
            (owner.id,),
        )
        return {row["server_id"]: int(row["tools"]) for row in rows}

    async def forget(self, server_id: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM tool_catalog WHERE server_id = ?", (server_id,))
            await conn.execute("DELETE FROM tool_catalog_listings WHERE server_id = ?", (server_id,))
