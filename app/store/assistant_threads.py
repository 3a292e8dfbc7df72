"""The assistant's conversations in SQLite: history (encrypted: it holds tool results), the person's last
prompt (for Retry), the thread's server selection, and the Slack event ids already answered."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from app.domain.assistant import ThreadRef, conversation_key
from app.domain.owner import Owner
from app.security.crypto import SecretBox
from app.store.database import Database

SEEN_EVENTS_KEPT_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Conversation:
    key: str
    history: bytes | None
    last_prompt: str | None
    # The servers this thread may use; None means every enabled server of the person.
    servers: tuple[str, ...] | None


class ConversationRepository:
    def __init__(self, db: Database, box: SecretBox) -> None:
        self._db = db
        self._box = box

    async def get(self, owner: Owner, thread: ThreadRef) -> Conversation:
        key = conversation_key(owner, thread)
        row = await self._db.fetch_one(
            "SELECT history_enc, last_prompt_enc, servers_json FROM assistant_threads WHERE thread_key = ?", (key,)
        )
        if row is None:
            return Conversation(key, None, None, None)
        history = self._box.decrypt(row[0], context=_context(key, "history")).encode() if row[0] else None
        prompt = self._box.decrypt(row[1], context=_context(key, "prompt")) if row[1] else None
        servers = tuple(json.loads(row[2])) if row[2] else None
        return Conversation(key, history, prompt, servers)

    async def save(
        self, owner: Owner, thread: ThreadRef, *, history: bytes | None = None, last_prompt: str | None = None
    ) -> None:
        """Store what changed (None leaves a field as it is)."""
        key = conversation_key(owner, thread)
        history_enc = self._box.encrypt(history.decode(), context=_context(key, "history")) if history else None
        prompt_enc = self._box.encrypt(last_prompt, context=_context(key, "prompt")) if last_prompt else None
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO assistant_threads (thread_key, owner_id, channel_id, thread_ts, history_enc, "
                "last_prompt_enc, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(thread_key) DO UPDATE SET "
                "history_enc = COALESCE(excluded.history_enc, history_enc), "
                "last_prompt_enc = COALESCE(excluded.last_prompt_enc, last_prompt_enc), "
                "updated_at = excluded.updated_at",
                (key, owner.id, thread.channel_id, thread.thread_ts, history_enc, prompt_enc, time.time()),
            )

    async def set_servers(self, owner: Owner, thread: ThreadRef, servers: tuple[str, ...] | None) -> None:
        key = conversation_key(owner, thread)
        value = json.dumps(list(servers)) if servers is not None else None
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO assistant_threads (thread_key, owner_id, channel_id, thread_ts, servers_json, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(thread_key) DO UPDATE SET servers_json = excluded.servers_json, "
                "updated_at = excluded.updated_at",
                (key, owner.id, thread.channel_id, thread.thread_ts, value, time.time()),
            )

    async def first_delivery(self, event_id: str) -> bool:
        """True the first time an event id is seen: Slack retries an event it thinks we missed."""
        now = time.time()
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM slack_events_seen WHERE seen_at < ?", (now - SEEN_EVENTS_KEPT_SECONDS,))
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO slack_events_seen (event_id, seen_at) VALUES (?, ?)", (event_id, now)
            )
            return cursor.rowcount == 1


def _context(key: str, field: str) -> str:
    return f"assistant:{key}:{field}"
