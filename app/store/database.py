"""One long-lived aiosqlite connection, numbered migrations, and short serialized transactions."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class Database:
    """aiosqlite runs one thread per connection; one connection with a lock keeps transactions whole."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._conn = connection
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, migrations_dir: Path = MIGRATIONS_DIR) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        db = cls(conn)
        await db._migrate(migrations_dir)
        return db

    async def close(self) -> None:
        await self._conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            else:
                await self._conn.execute("COMMIT")

    async def fetch_all(self, sql: str, params: tuple[object, ...] = ()) -> list[aiosqlite.Row]:
        async with self._lock, self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, params: tuple[object, ...] = ()) -> aiosqlite.Row | None:
        async with self._lock, self._conn.execute(sql, params) as cursor:
            row: aiosqlite.Row | None = await cursor.fetchone()
            return row

    async def _migrate(self, migrations_dir: Path) -> None:
        await self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, number INTEGER NOT NULL, "
            "applied_at REAL NOT NULL)"
        )
        # Recorded by file name, so two branches that both added a migration numbered N both get applied.
        applied = {row[0] for row in await self.fetch_all("SELECT name FROM schema_migrations")}
        scripts = await asyncio.to_thread(_read_migrations, migrations_dir)
        for number, name, script in scripts:
            if name in applied:
                continue
            async with self.transaction() as conn:
                for statement in _statements(script):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (number, name, applied_at) VALUES (?, ?, ?)",
                    (number, name, time.time()),
                )
            log.info("applied migration %s", name)


def _read_migrations(migrations_dir: Path) -> list[tuple[int, str, str]]:
    matches = ((path, _MIGRATION_FILE.match(path.name)) for path in sorted(migrations_dir.iterdir()))
    return [(int(m.group(1)), path.name, path.read_text()) for path, m in matches if m]


def _statements(script: str) -> list[str]:
    # Our migrations hold no triggers or string literals with ';', so splitting on ';' is exact.
    without_comments = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [s.strip() for s in without_comments.split(";") if s.strip()]
