"""Edit Config parity: what an edit of the mirror files on disk means, and what the owner is told.

A valid edit of `mcp.json` becomes a pending batch and the owner is asked (nothing starts before Confirm); an
invalid one is reported with its exact error while the running config stays; an edit of `mcp_remote.json` is
undone, because remote servers come only through `/mcp connect`.
"""

from __future__ import annotations

import logging
from typing import Protocol

from app.domain.config_document import MAX_FILE_BYTES, decode_config_file, parse_config_document
from app.domain.errors import InvalidConfig, PlugboardError
from app.domain.owner import Owner
from app.services.config_import import BatchReview, ConfigImportService
from app.services.server_service import ServerService
from app.store.config_mirror import LOCAL_FILE

log = logging.getLogger(__name__)


class ConfigEditNotifier(Protocol):
    async def edit_to_review(self, owner: Owner, review: BatchReview) -> None: ...

    async def edit_refused(self, owner: Owner, filename: str, problem: str) -> None: ...

    async def remote_edit_undone(self, owner: Owner) -> None: ...

    async def file_restored(self, owner: Owner, filename: str) -> None: ...


class ConfigEdits:
    """The MirrorWatcher's events, turned into pending changes and messages to the owner."""

    max_file_bytes = MAX_FILE_BYTES

    def __init__(self, imports: ConfigImportService, servers: ServerService, notifier: ConfigEditNotifier) -> None:
        self._imports = imports
        self._servers = servers
        self._notifier = notifier

    async def local_file_changed(self, owner: Owner, content: bytes | None) -> None:
        if content is None:
            await self._servers.rewrite_mirror(owner)
            await self._notifier.file_restored(owner, LOCAL_FILE)
            return
        if not content.strip():
            return  # an editor truncates before it writes: the real content follows at once
        try:
            document = parse_config_document(decode_config_file(content))
            review = await self._imports.propose(owner, document, source="disk", filename=LOCAL_FILE)
        except PlugboardError as exc:
            log.info("refused an edit of %s/%s", owner.id, LOCAL_FILE)
            problem = " ".join(exc.problems.values()) if isinstance(exc, InvalidConfig) else str(exc)
            await self._notifier.edit_refused(owner, LOCAL_FILE, problem)
            return
        if review.batch is None and not review.too_big_to_show:
            return  # e.g. only formatting changed: nothing to ask about
        await self._notifier.edit_to_review(owner, review)

    async def remote_file_changed(self, owner: Owner, content: bytes | None) -> None:
        await self._servers.rewrite_mirror(owner)
        if content is not None:
            await self._notifier.remote_edit_undone(owner)

    async def server_revoked(self, owner: Owner, server_id: str) -> None:
        await self._servers.enforce_revocation(owner, server_id)
