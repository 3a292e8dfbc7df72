"""Audit log entries as `/mcp audit` and App Home show them."""

from __future__ import annotations

import datetime
from typing import Any

from app.domain.audit import AuditEntry
from app.slack.text import code, escape

_DETAILS = ("tool", "outcome", "duration_ms")


def audit_line(entry: AuditEntry, *, with_owner: bool = False) -> str:
    when = datetime.datetime.fromtimestamp(entry.at, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    who = f" {entry.owner_id}" if with_owner else ""
    extra = " ".join(f"{k}={entry.detail[k]}" for k in _DETAILS if k in entry.detail)
    return f"`{when}`{escape(who)} *{escape(entry.action)}* {code(entry.server_name or '-')} {escape(extra)}".rstrip()


def audit_blocks(entries: list[AuditEntry], *, with_owner: bool = False) -> list[dict[str, Any]]:
    lines = [audit_line(entry, with_owner=with_owner) for entry in entries]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines[i : i + 20])[:3000]}}
        for i in range(0, len(lines), 20)
    ]
