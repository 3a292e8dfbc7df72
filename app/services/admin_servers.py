"""Servers the admin provides to everyone (PLUGBOARD_ADMIN_SERVERS_FILE).

Each owner gets their own process of each admin server (own sandbox home, own tool decisions), started
on the owner's first use of it, like their own servers. An owner's own server of the same name
comes first: the admin's is then hidden for that owner.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from app.domain.errors import InvalidConfig
from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.domain.server import ServerRecord
from app.domain.server_map import parse_server_map
from app.store.server_repository import ServerRepository

MAX_FILE_BYTES = 64 * 1024


class AdminServersError(ValueError):
    """The admin servers file cannot be used; the message names the file and the problem."""


def load_admin_servers(path: Path | None) -> dict[str, LocalServerConfig]:
    if path is None:
        return {}
    try:
        text = path.read_text()
    except OSError as exc:
        raise AdminServersError(f"cannot read the admin servers file {path}: {exc.strerror}") from None
    if len(text.encode()) > MAX_FILE_BYTES:
        raise AdminServersError(f"the admin servers file {path} is larger than {MAX_FILE_BYTES // 1024} KB")
    try:
        return parse_server_map(text)
    except InvalidConfig as exc:
        raise AdminServersError(f"the admin servers file {path} is invalid: {exc}") from None


class AdminServers:
    """The admin's servers as each owner gets them: a record per (owner, server), made when asked for, never kept.

    Starting one is like starting an owner's own server (first use, `ServerService.ensure_started`)."""

    def __init__(self, configs: dict[str, LocalServerConfig], repo: ServerRepository, *, offered: bool) -> None:
        self._configs = configs if offered else {}
        self._repo = repo

    def record_for(self, owner: Owner, name: str) -> ServerRecord | None:
        config = self._configs.get(name)
        if config is None:
            return None
        digest = hashlib.sha256(f"{name}|{owner.id}".encode()).hexdigest()[:24]
        return ServerRecord.approved_new(owner, name, config, enabled=True, now=0.0, record_id=f"admin{digest}")

    async def visible(self, owner: Owner) -> list[ServerRecord]:
        """The admin servers this owner gets: those whose names the owner has not used for their own."""
        if not self._configs:
            return []
        own = {record.name for record in await self._repo.list_for_owner(owner)}
        records = (self.record_for(owner, name) for name in sorted(self._configs) if name not in own)
        return [record for record in records if record is not None]
