"""The one writer connection, with group commit: transactions that queue up while one runs share its COMMIT.

SQLite has one writer at a time, and in WAL mode with `synchronous=FULL` every COMMIT is an fsync of the WAL (with
NORMAL, the default, a write to the WAL: still the larger part of a small transaction).
Under load (a burst of tool calls, each writing its audit entry) the fsyncs, not the inserts, are the cost. So
the `transaction()` bodies run in one outer transaction that stays open while more bodies are queued for the
connection (each body after the first inside a SAVEPOINT of it); the last of them (or the `MAX_BATCH`th)
commits, and every caller whose body succeeded returns from `transaction()` only once that COMMIT is done.
Nobody is told "done" before their writes are durable, a lone transaction commits at once (no timer, no added
latency, no savepoint), and a body that fails rolls back to its savepoint without touching the others (the
first body, having none, takes the still empty batch with it). If the COMMIT itself fails, every member of the
batch gets the error.

`write()` is the same promise for one statement (an audit entry after every tool call), at a third of the cost:
alone it is one trip to the connection's thread in autocommit mode (SQLite commits a lone statement itself),
and in a batch it joins without a savepoint (a failed statement is undone by SQLite on its own, leaving the
batch's other writes in place). Each trip to the thread wakes it and then the event loop, which is most of a
small transaction's cost.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

# Bounds how long the first member of a batch waits behind the others (each body is a few statements).
MAX_BATCH = 64


@dataclass
class _Batch:
    """One outer transaction: the bodies that ran in it and the COMMIT they all wait for."""

    committed: asyncio.Future[None]
    members: int = 0
    committer: asyncio.Task[None] | None = field(default=None, repr=False)


class GroupCommitWriter:
    def __init__(self, connection: aiosqlite.Connection, max_batch: int = MAX_BATCH) -> None:
        self._conn = connection
        self._max_batch = max_batch
        self._turn = asyncio.Lock()  # one transaction body on the connection at a time
        self._queued = 0  # callers waiting for their turn: while there are any, the batch stays open
        self._batch: _Batch | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # commits in flight, kept referenced
        self.commits = 0  # for tests and the benchmark: how many fsyncs the bodies shared

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        await self._take_turn()
        batch: _Batch | None = None
        succeeded = False
        try:
            # The first body of a batch needs no savepoint: if it fails, the whole (so far empty) batch goes.
            first = self._batch is None
            batch = await self._open_batch()
            if not first:
                await self._conn.execute("SAVEPOINT body")
            try:
                yield self._conn
            except BaseException:
                await (self._abandon(batch) if first else self._undo_body(batch))
                raise
            if not first:
                await self._conn.execute("RELEASE body")
            batch.members += 1
            succeeded = True
        finally:
            self._end_turn(batch)
        if succeeded:
            # Shielded: a caller cancelled here still has its writes committed with the others.
            await asyncio.shield(batch.committed)

    async def write(self, sql: str, params: Sequence[object]) -> None:
        """One statement, committed and durable when this returns, like a `transaction()` holding only it."""
        await self._take_turn()
        if self._batch is None and self._queued == 0:
            try:
                # A cancelled caller does not stop the statement (it is already queued on the thread): it commits.
                await self._conn.execute(sql, params)
                self.commits += 1
            finally:
                self._turn.release()
            return
        batch: _Batch | None = None
        try:
            batch = await self._open_batch()
            try:
                await self._conn.execute(sql, params)
            except sqlite3.Error as exc:
                if not self._conn.in_transaction:  # an error SQLite answers by rolling the whole batch back
                    await self._abandon(batch, exc)
                raise
            except BaseException:
                batch.members += 1  # cancelled: the statement still runs, inside this batch
                raise
            batch.members += 1
        finally:
            self._end_turn(batch)
        await asyncio.shield(batch.committed)

    async def _take_turn(self) -> None:
        """Wait for the connection, counted as queued meanwhile (a batch stays open while anyone is)."""
        self._queued += 1
        try:
            await self._turn.acquire()
        finally:
            self._queued -= 1

    async def close(self) -> None:
        """Commit whatever is still open (commits in flight hold the turn, so this waits for them), then close."""
        async with self._turn:
            if self._batch is not None:
                await self._commit(self._batch)
        await self._conn.close()

    async def _open_batch(self) -> _Batch:
        if self._batch is None:
            await self._conn.execute("BEGIN IMMEDIATE")
            self._batch = _Batch(asyncio.get_running_loop().create_future())
        return self._batch

    async def _undo_body(self, batch: _Batch) -> None:
        lost: sqlite3.Error | None
        try:
            await self._conn.execute("ROLLBACK TO body")
            await self._conn.execute("RELEASE body")
            lost = None if self._conn.in_transaction else sqlite3.OperationalError("the transaction was rolled back")
        except sqlite3.Error as exc:
            lost = exc
        if lost is not None:
            # SQLite rolled the whole transaction back itself (e.g. on SQLITE_FULL): the others' writes are gone too.
            await self._abandon(batch, lost)

    async def _abandon(self, batch: _Batch, error: Exception | None = None) -> None:
        """Roll the whole batch back; its members (if any) are told it failed."""
        with suppress(sqlite3.Error):
            if self._conn.in_transaction:
                await self._conn.execute("ROLLBACK")
        self._batch = None
        self._settle(batch, error or sqlite3.OperationalError("the transaction was rolled back"))

    def _end_turn(self, batch: _Batch | None) -> None:
        """Commit if nobody is queued behind us (or the batch is full), else leave the batch open for them and
        queue a committer behind them (so it is committed even if they are all cancelled while waiting).

        The COMMIT runs in a task of its own that takes over the turn: a caller cancelled now cannot interrupt
        it, and nothing else runs on the connection until it is done."""
        if batch is not None and self._batch is batch:
            if self._queued == 0 or batch.members >= self._max_batch:
                self._spawn(self._commit_then_release(batch))
                return
            if batch.committer is None:
                batch.committer = self._spawn(self._commit_after_queue(batch))
        self._turn.release()

    async def _commit_then_release(self, batch: _Batch) -> None:
        try:
            await self._commit(batch)
        finally:
            self._turn.release()

    async def _commit_after_queue(self, batch: _Batch) -> None:
        # asyncio.Lock is FIFO: by the time this task holds it, everyone queued before it has had their turn.
        async with self._turn:
            if self._batch is batch:
                await self._commit(batch)

    async def _commit(self, batch: _Batch) -> None:
        self._batch = None
        try:
            await self._conn.execute("COMMIT")
        except Exception as exc:
            with suppress(sqlite3.Error):
                if self._conn.in_transaction:
                    await self._conn.execute("ROLLBACK")
            log.error("a group commit of %d transaction(s) failed: %s", batch.members, exc)
            self._settle(batch, exc)
        except BaseException:  # cancelled (the loop is shutting down): nobody may take it as committed
            self._settle(batch, sqlite3.OperationalError("the commit was interrupted"))
            raise
        else:
            self.commits += 1
            self._settle(batch, None)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    def _settle(batch: _Batch, exc: Exception | None) -> None:
        if batch.committed.done():
            return
        if exc is None:
            batch.committed.set_result(None)
        else:
            batch.committed.set_exception(exc)
            batch.committed.exception()  # marked retrieved: a batch nobody waits on must not log "never retrieved"
