"""SQLite in WAL mode: one writer connection with group commit, a small pool of readers, numbered migrations.

Reads never queue behind writes: WAL lets readers run while the writer holds its lock, so `fetch_all` and
`fetch_one` go to one of `READERS` read-only connections (aiosqlite gives each its own thread) and only
transactions go to the writer (`GroupCommitWriter`). Every read is a single statement in autocommit mode, so
its read transaction ends when the statement does: no reader holds a snapshot open, and a read started after
`transaction()` returned sees that transaction (read-your-writes).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import aiosqlite

from app.store.group_commit import GroupCommitWriter
from app.store.sql_store import SqlStore

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
READERS = 3
BUSY_TIMEOUT_MS = 5000  # another process (the admin CLI) may hold the write lock for a moment


class Database:
    """The SQLite `SqlStore`."""

    def __init__(self, writer: GroupCommitWriter, readers: list[aiosqlite.Connection]) -> None:
        self._writer = writer
        self._all_readers = readers
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for reader in readers:
            self._idle.put_nowait(reader)

    @classmethod
    async def open(
        cls,
        path: Path,
        migrations_dir: Path = MIGRATIONS_DIR,
        readers: int = READERS,
        *,
        fsync_every_commit: bool = False,
    ) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = await _connect(path)
        try:
            # WAL + NORMAL: a COMMIT is in the WAL (the OS's page cache) before `transaction()` returns, so a crash
            # or kill -9 of this process loses nothing acknowledged; the WAL is fsynced at checkpoints, so an OS
            # crash or power cut may lose the last moments. FULL (`PLUGBOARD_DB_FSYNC_EVERY_COMMIT`) fsyncs every
            # COMMIT instead, at about 0.7 ms per write (docs/scaling.md, "What a crash can lose").
            await writer.execute("PRAGMA journal_mode=WAL")
            await writer.execute(f"PRAGMA synchronous={'FULL' if fsync_every_commit else 'NORMAL'}")
            await _migrate(writer, migrations_dir)
        except BaseException:
            await writer.close()
            raise
        pool: list[aiosqlite.Connection] = []
        try:
            for _ in range(readers):
                reader = await _connect(path)
                pool.append(reader)
                await reader.execute("PRAGMA query_only=ON")
        except BaseException:
            await asyncio.gather(writer.close(), *(r.close() for r in pool), return_exceptions=True)
            raise
        return cls(GroupCommitWriter(writer), pool)

    async def close(self) -> None:
        await self._writer.close()
        await asyncio.gather(*(reader.close() for reader in self._all_readers))

    def transaction(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        return self._writer.transaction()

    async def write(self, sql: str, params: tuple[object, ...]) -> None:
        await self._writer.write(sql, params)

    @property
    def commits(self) -> int:
        """How many COMMITs (fsyncs) the writer has done: fewer than transactions when they were batched."""
        return self._writer.commits

    async def fetch_all(self, sql: str, params: tuple[object, ...] = ()) -> list[aiosqlite.Row]:
        async with self._reader() as reader, reader.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, params: tuple[object, ...] = ()) -> aiosqlite.Row | None:
        async with self._reader() as reader, reader.execute(sql, params) as cursor:
            row: aiosqlite.Row | None = await cursor.fetchone()
            return row

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[aiosqlite.Connection]:
        reader = await self._idle.get()
        try:
            yield reader
        finally:
            self._idle.put_nowait(reader)


_: type[SqlStore] = Database  # mypy checks that Database implements the SqlStore protocol


async def _connect(path: Path) -> aiosqlite.Connection:
    # isolation_level=None: autocommit; transactions are begun explicitly (BEGIN IMMEDIATE) and reads never
    # open one implicitly that would outlive their statement.
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await conn.execute("PRAGMA foreign_keys=ON")
    await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


async def _migrate(conn: aiosqlite.Connection, migrations_dir: Path) -> None:
    """On the writer, before any reader or group commit exists: each migration commits on its own."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, number INTEGER NOT NULL, "
        "applied_at REAL NOT NULL)"
    )
    # Recorded by file name, so two branches that both added a migration numbered N both get applied.
    async with conn.execute("SELECT name FROM schema_migrations") as cursor:
        applied = {row[0] for row in await cursor.fetchall()}
    scripts = await asyncio.to_thread(_read_migrations, migrations_dir)
    for number, name, script in scripts:
        if name in applied:
            continue
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (number, name, applied_at) VALUES (?, ?, ?)",
                (number, name, time.time()),
            )
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
        log.info("applied migration %s", name)


def _read_migrations(migrations_dir: Path) -> list[tuple[int, str, str]]:
    matches = ((path, _MIGRATION_FILE.match(path.name)) for path in sorted(migrations_dir.iterdir()))
    return [(int(m.group(1)), path.name, path.read_text()) for path, m in matches if m]


def _statements(script: str) -> list[str]:
    # Our migrations hold no triggers or string literals with ';', so splitting on ';' is exact.
    without_comments = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [s.strip() for s in without_comments.split(";") if s.strip()]
