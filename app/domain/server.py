"""A stored server and a change waiting for its owner's confirmation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from app.domain.owner import Owner
from app.domain.server_config import ServerConfig

PENDING_CHANGE_TTL_SECONDS = 60 * 60


class ServerRecord(BaseModel):
    """One server as committed to the database; `approved_hash` is the config the owner said yes to."""

    model_config = ConfigDict(frozen=True)

    id: str
    owner: Owner
    name: str
    config: ServerConfig
    enabled: bool
    approved_hash: str
    version: int
    created_at: float
    updated_at: float

    @classmethod
    def approved_new(
        cls,
        owner: Owner,
        name: str,
        config: ServerConfig,
        *,
        enabled: bool,
        now: float,
        record_id: str | None = None,
    ) -> ServerRecord:
        """A first version of a server whose config the owner has approved as it stands."""
        return cls(
            id=record_id if record_id is not None else uuid.uuid4().hex,
            owner=owner,
            name=name,
            config=config,
            enabled=enabled,
            approved_hash=config.approval_hash(),
            version=1,
            created_at=now,
            updated_at=now,
        )

    @property
    def approved(self) -> bool:
        return self.approved_hash == self.config.approval_hash()


class PendingChange(BaseModel):
    """An add or edit the owner has been shown but not yet confirmed. Nothing runs from it."""

    model_config = ConfigDict(frozen=True)

    id: str
    owner: Owner
    kind: Literal["add", "edit"]
    name: str
    config: ServerConfig
    server_id: str | None
    base_version: int | None
    created_at: float

    def expired(self, now: float) -> bool:
        return now - self.created_at > PENDING_CHANGE_TTL_SECONDS


@dataclass(frozen=True)
class ServerDiff:
    """Which servers a committed change starts, stops or restarts; everything else is untouched."""

    start: tuple[ServerRecord, ...] = ()
    stop: tuple[str, ...] = ()
    restart: tuple[ServerRecord, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.start or self.stop or self.restart)


def diff_servers(before: dict[str, ServerRecord], after: dict[str, ServerRecord]) -> ServerDiff:
    """Compare two snapshots of one owner's servers (keyed by id) and say what must change at runtime."""
    start: list[ServerRecord] = []
    stop: list[str] = []
    restart: list[ServerRecord] = []
    for server_id, old in before.items():
        new = after.get(server_id)
        if new is None or not new.enabled:
            if old.enabled:
                stop.append(server_id)
        elif not old.enabled:
            start.append(new)
        elif new.config.runtime_differs_from(old.config) or new.name != old.name:
            restart.append(new)
    for server_id, new in after.items():
        if server_id not in before and new.enabled:
            start.append(new)
    return ServerDiff(tuple(start), tuple(stop), tuple(restart))
