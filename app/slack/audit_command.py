"""`/mcp audit [N]`, and for admins `/mcp audit everyone [N]`: the latest audit entries, answered ephemerally."""

from __future__ import annotations

from app.domain.errors import NotAnAdmin, UsageError
from app.services.audit_service import AuditService
from app.slack.blocks.audit import audit_blocks
from app.slack.command_line import CommandRequest

DEFAULT_COUNT = "20"


class AuditCommand:
    def __init__(self, audit: AuditService) -> None:
        self._audit = audit

    async def show(self, req: CommandRequest) -> None:
        await req.ack()
        words = req.command.words
        everyone = bool(words) and words[0] == "everyone"
        counted = words[1:] if everyone else words
        count_word = counted[0] if counted else DEFAULT_COUNT
        if everyone and not self._audit.is_admin(req.owner):
            raise NotAnAdmin()
        if not count_word.isdigit():
            raise UsageError("Usage: `/mcp audit [N]` (admins: `/mcp audit everyone [N]`).")
        count = int(count_word)
        entries = await (
            self._audit.recent_for_everyone(req.owner, count) if everyone else self._audit.recent(req.owner, count)
        )
        if not entries:
            await req.respond(text="No audit entries yet.", response_type="ephemeral")
            return
        blocks = audit_blocks(entries, with_owner=everyone)
        await req.respond(text=f"{len(entries)} audit entries", blocks=blocks, response_type="ephemeral")
