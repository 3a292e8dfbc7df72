"""One line of the audit log, as read back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AuditEntry:
    at: float
    owner_id: str
    actor_id: str
    action: str
    server_name: str | None
    detail: dict[str, Any]
