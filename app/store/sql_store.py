"""What the repositories need from a database: the seam a PostgreSQL backend would implement.

Covered: short write transactions that commit whole (and durably, before `transaction()` returns), single write
statements with the same promise (`write()`), and reads that see every committed write. The repositories in
app/store use nothing else: inside a transaction they call `conn.execute(sql, params)` (awaited, or as
`async with … as cursor` then `fetchone()`/`fetchall()`) and `conn.executemany(sql, rows)`, and rows are read by
column name (`row["owner_id"]`). Their SQL is portable but for the parameter style:
`INSERT … ON CONFLICT (…) DO UPDATE SET x = excluded.x` is PostgreSQL's spelling too.

Not covered, so a PostgreSQL backend supplies it behind the same surface: the connection object handed out by
`transaction()` (an adapter over asyncpg/psycopg that rewrites qmark `?` to `$n` and returns rows addressable by
column name), the migrations (numbered `.sql` files written for SQLite: `AUTOINCREMENT`, `REAL` timestamps), and
opening (`Database.open(path)` is SQLite's constructor; a PostgreSQL one takes a DSN and a pool size). Group
commit is SQLite's answer to one writer with an fsync per COMMIT; PostgreSQL batches WAL flushes itself
(`commit_delay`), so its `transaction()` is a plain pooled transaction. See docs/scaling.md.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

import aiosqlite


class SqlStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        """A write transaction. On a clean exit its writes are committed and durable; on an exception, none of
        them happened. Concurrent transactions are serialized (never interleaved) and may share one commit."""
        ...

    async def write(self, sql: str, params: tuple[object, ...]) -> None:
        """One write statement as a transaction of its own: committed and durable when this returns."""
        ...

    async def fetch_all(self, sql: str, params: tuple[object, ...] = ()) -> list[aiosqlite.Row]:
        """One read statement, seeing every transaction that returned before it was called."""
        ...

    async def fetch_one(self, sql: str, params: tuple[object, ...] = ()) -> aiosqlite.Row | None: ...

    async def close(self) -> None:
        """Commit what is in flight and release every connection."""
        ...
