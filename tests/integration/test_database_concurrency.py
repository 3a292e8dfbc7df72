"""The real SQLite store under concurrency: readers beside the writer, group commit, read-your-writes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.store.database import Database

pytestmark = pytest.mark.anyio

BOUND_SECONDS = 10.0  # only trips when something deadlocks; never a measure of speed


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "store.sqlite3")
    async with database.transaction() as conn:
        await conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)")
    try:
        yield database
    finally:
        await database.close()


async def _bodies(db: Database) -> set[str]:
    return {row["body"] for row in await db.fetch_all("SELECT body FROM notes")}


async def test_a_read_is_answered_while_a_write_transaction_is_open_and_does_not_see_it(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO notes (body) VALUES ('uncommitted')")
        async with asyncio.timeout(BOUND_SECONDS):  # with one shared lock this read would wait forever
            seen = await _bodies(db)
    assert seen == set()
    assert await _bodies(db) == {"uncommitted"}


async def test_every_write_is_visible_to_a_read_started_after_its_transaction_returned(db: Database) -> None:
    async def write_then_read(index: int) -> bool:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES (?)", (f"n{index}",))
        row = await db.fetch_one("SELECT COUNT(*) AS n FROM notes WHERE body = ?", (f"n{index}",))
        return row is not None and row["n"] == 1

    assert all(await asyncio.gather(*(write_then_read(i) for i in range(200))))


@pytest.mark.parametrize("single_writes", [False, True], ids=["transactions", "with-single-writes"])
async def test_concurrent_writes_share_commits(db: Database, single_writes: bool) -> None:
    commits_before = db.commits

    async def insert(index: int) -> None:
        if single_writes and index % 2:
            await db.write("INSERT INTO notes (body) VALUES (?)", (f"n{index}",))
            return
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES (?)", (f"n{index}",))

    await asyncio.gather(*(insert(i) for i in range(100)))

    assert await _bodies(db) == {f"n{i}" for i in range(100)}
    assert db.commits - commits_before < 100


async def test_a_failing_transaction_in_a_batch_undoes_only_its_own_writes(db: Database) -> None:
    async def insert(index: int) -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES (?)", (f"n{index}",))
            if index % 3 == 0:
                await conn.execute("INSERT INTO notes (body) VALUES ('n1')")  # violates UNIQUE (or will)

    results = await asyncio.gather(*(insert(i) for i in range(1, 31)), return_exceptions=True)

    failed = {i for i, result in zip(range(1, 31), results, strict=True) if isinstance(result, Exception)}
    assert failed == {i for i in range(1, 31) if i % 3 == 0}
    assert await _bodies(db) == {f"n{i}" for i in range(1, 31) if i not in failed}


async def test_a_transaction_cancelled_while_queued_leaves_the_writer_working(db: Database) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES ('first')")
            inside.set()
            await release.wait()

    async def queued() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES ('queued')")

    holder = asyncio.create_task(first())
    await inside.wait()
    waiter = asyncio.create_task(queued())
    await asyncio.sleep(0)  # one turn of the loop: the waiter queues behind the open transaction
    waiter.cancel()
    release.set()
    async with asyncio.timeout(BOUND_SECONDS):
        await holder
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES ('after')")
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert await _bodies(db) == {"first", "after"}


async def test_a_caller_cancelled_after_its_body_still_has_its_write_committed(db: Database) -> None:
    inside = asyncio.Event()

    async def write() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES ('kept')")
            inside.set()

    task = asyncio.create_task(write())
    await inside.wait()
    await asyncio.sleep(0)  # one turn of the loop: the body has ended, its commit is under way
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    async with asyncio.timeout(BOUND_SECONDS):
        async with db.transaction() as conn:  # the writer is free again
            await conn.execute("INSERT INTO notes (body) VALUES ('after')")
    assert await _bodies(db) == {"kept", "after"}


async def test_a_reopened_database_has_every_committed_write(tmp_path: Path) -> None:
    path = tmp_path / "again.sqlite3"
    first = await Database.open(path)
    async with first.transaction() as conn:
        await conn.execute("CREATE TABLE notes (body TEXT)")

    async def insert(index: int) -> None:
        async with first.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES (?)", (f"n{index}",))

    await asyncio.gather(*(insert(i) for i in range(50)))
    await first.close()

    second = await Database.open(path)
    try:
        row = await second.fetch_one("SELECT COUNT(*) AS n FROM notes")
        assert row is not None and row["n"] == 50
    finally:
        await second.close()


async def test_a_lone_transaction_that_fails_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES ('half')")
            raise RuntimeError("the caller changed its mind")
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO notes (body) VALUES ('whole')")
    assert await _bodies(db) == {"whole"}


async def test_a_single_write_is_visible_to_a_read_started_after_it_returned(db: Database) -> None:
    await db.write("INSERT INTO notes (body) VALUES (?)", ("alone",))
    assert await _bodies(db) == {"alone"}


async def test_a_failing_single_write_in_a_batch_fails_alone(db: Database) -> None:
    await db.write("INSERT INTO notes (body) VALUES ('taken')", ())

    async def write(index: int) -> None:
        await db.write("INSERT INTO notes (body) VALUES (?)", ("taken" if index % 4 == 0 else f"n{index}",))

    results = await asyncio.gather(*(write(i) for i in range(1, 41)), return_exceptions=True)

    failed = {i for i, result in zip(range(1, 41), results, strict=True) if isinstance(result, Exception)}
    assert failed == {i for i in range(1, 41) if i % 4 == 0}
    assert await _bodies(db) == {"taken"} | {f"n{i}" for i in range(1, 41) if i % 4}


async def test_a_single_write_cancelled_while_waiting_leaves_the_writer_working(db: Database) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES ('first')")
            inside.set()
            await release.wait()

    holder = asyncio.create_task(first())
    await inside.wait()
    writer = asyncio.create_task(db.write("INSERT INTO notes (body) VALUES ('second')", ()))
    await asyncio.sleep(0)  # one turn: the write queues behind the open transaction
    release.set()
    await holder
    await asyncio.sleep(0)  # its turn: the statement is handed to the connection's thread
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    async with asyncio.timeout(BOUND_SECONDS):
        await db.write("INSERT INTO notes (body) VALUES ('after')", ())
    bodies = await _bodies(db)
    assert {"first", "after"} <= bodies
    assert bodies <= {"first", "second", "after"}
