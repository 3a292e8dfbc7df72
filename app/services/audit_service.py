"""Reading the audit log: an owner's own entries, and everyone's for Plugboard admins."""

from __future__ import annotations

from typing import Protocol

from app.domain.audit import AuditEntry
from app.domain.errors import NotAnAdmin
from app.domain.owner import Owner

MAX_ENTRIES = 50


class AuditReader(Protocol):
    """What this service needs of the store's audit log."""

    async def recent(self, owner: Owner, limit: int = 20) -> list[AuditEntry]: ...

    async def recent_all(self, limit: int = 20) -> list[AuditEntry]: ...


class AuditService:
    def __init__(self, log: AuditReader, admins: tuple[str, ...]) -> None:
        self._log = log
        self._admins = frozenset(admins)

    def is_admin(self, owner: Owner) -> bool:
        return owner.user_id in self._admins

    async def recent(self, owner: Owner, count: int = 20) -> list[AuditEntry]:
        """The owner's own last `count` entries (1 to MAX_ENTRIES), newest first."""
        return await self._log.recent(owner, _bounded(count))

    async def recent_for_everyone(self, requester: Owner, count: int = 20) -> list[AuditEntry]:
        """Everyone's last `count` entries, newest first; only for admins."""
        if not self.is_admin(requester):
            raise NotAnAdmin()
        return await self._log.recent_all(_bounded(count))


def _bounded(count: int) -> int:
    return max(1, min(count, MAX_ENTRIES))
