"""Support and incident response across owners: who has which servers, an owner's config, revoking a server.

Used by the admin CLI, which may run while the app runs: a revocation is written to the database (disabled,
audited) and signalled through `data/revocations/`, which the running app's watcher turns into a stop.
"""

from __future__ import annotations

import asyncio
import time

from app.domain.errors import ServerNotFound
from app.domain.owner import Owner
from app.domain.server import ServerRecord
from app.store.audit_log import AuditLog
from app.store.config_mirror import document_text, local_document, remote_document
from app.store.database import Database
from app.store.revocation_signals import Revocation, RevocationSignals
from app.store.server_repository import ServerRepository


class AdminService:
    def __init__(self, db: Database, repo: ServerRepository, audit: AuditLog, signals: RevocationSignals) -> None:
        self._db = db
        self._repo = repo
        self._audit = audit
        self._signals = signals

    async def owners(self) -> list[tuple[Owner, list[ServerRecord]]]:
        owners = sorted(await self._repo.list_owners(), key=lambda o: o.id)
        return [(owner, await self._repo.list_for_owner(owner)) for owner in owners]

    async def export(self, owner: Owner, *, remote: bool = False) -> str:
        """The owner's `mcp.json` (or `mcp_remote.json`) exactly as the mirror has it: placeholders, no secrets."""
        records = await self._repo.list_for_owner(owner)
        return document_text(remote_document(records) if remote else local_document(records))

    async def revoke(self, owner: Owner, name: str, *, reason: str = "") -> ServerRecord:
        """Disable the server (its config is kept for the investigation) and tell the running app to stop it."""
        current = await self._repo.get_by_name(owner, name)
        if current is None:
            raise ServerNotFound(name)
        record = current
        async with self._db.transaction() as conn:
            if current.enabled:
                record = current.model_copy(
                    update={"enabled": False, "version": current.version + 1, "updated_at": time.time()}
                )
                await self._repo.update(conn, record, expected_version=current.version)
            await self._audit.append(
                conn,
                owner=owner,
                action="revoked",
                server_name=name,
                detail={"by": "admin cli", "reason": reason[:500], "was_enabled": current.enabled},
            )
        await asyncio.to_thread(self._signals.send, Revocation(owner.id, record.id))
        return record
