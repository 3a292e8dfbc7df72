"""Tool calls waiting for their owner's answer, and each person's standing "ask" / "always" per tool."""

from __future__ import annotations

import time

import aiosqlite

from app.domain.assistant import ApprovalMode, ApprovalState, PendingApproval, ThreadRef
from app.domain.owner import Owner
from app.store.database import Database

_COLUMNS = (
    "a.id, a.batch_id, a.thread_key, a.owner_id, t.channel_id, t.thread_ts, a.call_id, a.tool_name, a.state, "
    "a.created_at, a.expires_at, a.message_ts"
)


class ApprovalRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, approvals: list[PendingApproval]) -> None:
        async with self._db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO assistant_approvals (id, batch_id, thread_key, owner_id, call_id, tool_name, state, "
                "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        a.id,
                        a.batch_id,
                        a.conversation,
                        a.owner.id,
                        a.call_id,
                        a.tool_name,
                        a.state,
                        a.created_at,
                        a.expires_at,
                    )
                    for a in approvals
                ],
            )

    async def get(self, approval_id: str) -> PendingApproval | None:
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM assistant_approvals a JOIN assistant_threads t ON t.thread_key = a.thread_key "
            "WHERE a.id = ?",
            (approval_id,),
        )
        return _approval(row) if row else None

    async def pending_in(self, conversation: str) -> list[PendingApproval]:
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM assistant_approvals a JOIN assistant_threads t ON t.thread_key = a.thread_key "
            "WHERE a.thread_key = ? AND a.state = 'pending' ORDER BY a.created_at, a.id",
            (conversation,),
        )
        return [_approval(r) for r in rows]

    async def batch(self, batch_id: str) -> list[PendingApproval]:
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM assistant_approvals a JOIN assistant_threads t ON t.thread_key = a.thread_key "
            "WHERE a.batch_id = ? ORDER BY a.created_at, a.id",
            (batch_id,),
        )
        return [_approval(r) for r in rows]

    async def due(self, now: float) -> list[PendingApproval]:
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM assistant_approvals a JOIN assistant_threads t ON t.thread_key = a.thread_key "
            "WHERE a.state = 'pending' AND a.expires_at <= ? ORDER BY a.expires_at",
            (now,),
        )
        return [_approval(r) for r in rows]

    async def resolve(self, approval_id: str, state: ApprovalState) -> bool:
        """Move a pending approval to its answer; False when it was already answered (a double click)."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE assistant_approvals SET state = ? WHERE id = ? AND state = 'pending'", (state, approval_id)
            )
            return cursor.rowcount == 1

    async def claim_batch(self, batch_id: str) -> bool:
        """True for the one caller that resumes the turn with this batch's answers."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE assistant_approvals SET resumed = 1 WHERE batch_id = ? AND resumed = 0", (batch_id,)
            )
            return cursor.rowcount > 0

    async def set_message(self, approval_ids: list[str], message_ts: str) -> None:
        async with self._db.transaction() as conn:
            await conn.executemany(
                "UPDATE assistant_approvals SET message_ts = ? WHERE id = ?", [(message_ts, i) for i in approval_ids]
            )


class ApprovalModeRepository:
    """`ask`: the assistant asks before every call of this tool. `always`: it never asks (for this definition)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def for_owner(self, owner: Owner) -> dict[tuple[str, str], tuple[ApprovalMode, str]]:
        rows = await self._db.fetch_all(
            "SELECT server_id, tool_name, mode, pin FROM tool_approval_modes WHERE owner_id = ?", (owner.id,)
        )
        return {(r[0], r[1]): (r[2], r[3]) for r in rows}

    async def set(self, owner: Owner, server_id: str, tool_name: str, mode: ApprovalMode | None, pin: str) -> None:
        async with self._db.transaction() as conn:
            if mode is None:
                await conn.execute(
                    "DELETE FROM tool_approval_modes WHERE server_id = ? AND tool_name = ?", (server_id, tool_name)
                )
                return
            await conn.execute(
                "INSERT INTO tool_approval_modes (owner_id, server_id, tool_name, mode, pin, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(server_id, tool_name) DO UPDATE SET mode = excluded.mode, "
                "pin = excluded.pin, updated_at = excluded.updated_at",
                (owner.id, server_id, tool_name, mode, pin, time.time()),
            )


def _approval(row: aiosqlite.Row) -> PendingApproval:
    return PendingApproval(
        id=row[0],
        batch_id=row[1],
        conversation=row[2],
        owner=Owner.from_id(row[3]),
        thread=ThreadRef(row[4], row[5]),
        call_id=row[6],
        tool_name=row[7],
        state=row[8],
        created_at=row[9],
        expires_at=row[10],
        message_ts=row[11],
    )
