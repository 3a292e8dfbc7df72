"""Whole config files in and out: propose what a file would change, confirm it as one change, export.

Uploads and on-disk edits of `mcp.json` both become a PendingBatch (nothing runs). Confirming applies every
item in one transaction through ServerService.apply_change, which then rewrites the mirror and hot-reloads only
the servers that changed. The same consent rules as `/mcp add` hold: the admin policy is checked when the batch is
proposed and again when it is confirmed, and the owner has seen every command line that will run. So a batch
whose review cannot be shown whole (the edge says what fits, see `limit_reviews_to`) is never kept.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import aiosqlite

from app.domain.config_batch import BatchItem, ImportPlan, PendingBatch, Source, plan_import, with_inputs
from app.domain.config_document import ConfigDocument
from app.domain.errors import (
    ChangeExpired,
    InputsMissing,
    InvalidConfig,
    NotYourServer,
    ServerLimitReached,
    ServerNameTaken,
)
from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.domain.server import PENDING_CHANGE_TTL_SECONDS, ServerRecord
from app.domain.server_config import summary
from app.services.local_gate import RunConditions
from app.services.server_service import ServerService
from app.store.audit_log import AuditLog
from app.store.config_mirror import LOCAL_FILE, REMOTE_FILE, document_text, local_document, remote_document
from app.store.database import Database
from app.store.pending_batches import PendingBatchRepository
from app.store.server_repository import ServerRepository


@dataclass(frozen=True)
class BatchReview:
    """What the owner is shown: the plan, how each added/changed server would run, and the batch to confirm.

    `batch` is None when nothing would change, or when the review is too big to be shown whole
    (`too_big_to_show`): either way nothing was stored, so nothing can be confirmed."""

    plan: ImportPlan
    filename: str
    kind: str
    source: Source
    batch: PendingBatch | None
    conditions: dict[str, RunConditions | None] = field(default_factory=dict)
    too_big_to_show: bool = False

    def withheld(self) -> BatchReview:
        """This review with its batch dropped, because the owner could not see all of it."""
        return replace(self, batch=None, too_big_to_show=True)


ReviewFits = Callable[[BatchReview], bool]
"""Whether a review can be shown to the owner whole (the edge knows its message limits)."""


@dataclass(frozen=True)
class BatchOutcome:
    running: list[ServerRecord]  # added, changed or enabled: started or restarted
    stopped: list[str]  # disabled by the file
    added_disabled: list[str]
    removed: list[str]


@dataclass(frozen=True)
class ExportedFile:
    filename: str
    text: str


class ConfigImportService:
    def __init__(
        self,
        db: Database,
        batches: PendingBatchRepository,
        repo: ServerRepository,
        servers: ServerService,
        audit: AuditLog,
        *,
        max_servers_per_owner: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._batches = batches
        self._repo = repo
        self._servers = servers
        self._audit = audit
        self._max_servers = max_servers_per_owner
        self._clock = clock
        self._fits: ReviewFits = lambda review: True

    def limit_reviews_to(self, fits: ReviewFits) -> None:
        """What the owner can be shown: a batch whose review does not fit is discarded, never kept half-seen."""
        self._fits = fits

    # -- proposing (nothing runs) ------------------------------------------------------------

    async def propose(self, owner: Owner, document: ConfigDocument, *, source: Source, filename: str) -> BatchReview:
        current = await self._servers.records(owner)
        plan = plan_import(document, current)
        conditions = self._conditions(plan)
        # Refused now only when even Replace (which removes what the file leaves out) could not make it fit; the
        # numbers shown are those of a Merge, i.e. of the servers the owner has now.
        self._check_count(len(current), plan, replace=True, shown_have=len(current))
        if plan.nothing_to_change(replace=True) and not plan.inputs:
            if source == "disk":  # the file is back to what runs: an earlier edit still waiting is moot
                async with self._db.transaction() as conn:
                    await self._batches.drop_for_owner(conn, owner, "disk")
            return BatchReview(plan, filename, document.kind, source, None, conditions)
        now = self._clock()
        batch = PendingBatch(
            id=secrets.token_urlsafe(16),
            owner=owner,
            source=source,
            filename=filename,
            kind=document.kind,
            plan=plan,
            created_at=now,
        )
        review = BatchReview(plan, filename, document.kind, source, batch, conditions)
        shown = self._fits(review)
        async with self._db.transaction() as conn:
            await self._batches.purge_before(conn, now - PENDING_CHANGE_TTL_SECONDS)
            if source == "disk":  # a newer edit of the file replaces the one still waiting
                await self._batches.drop_for_owner(conn, owner, "disk")
            if shown:
                await self._batches.insert(conn, batch)
        return review if shown else review.withheld()

    async def review(self, owner: Owner, batch_id: str) -> BatchReview:
        batch = await self._owned(owner, batch_id)
        return BatchReview(batch.plan, batch.filename, batch.kind, batch.source, batch, self._conditions(batch.plan))

    async def fill_inputs(self, owner: Owner, batch_id: str, values: dict[str, str]) -> BatchReview:
        """The VS Code `inputs` typed into the modal: a new batch with them filled in replaces the old one."""
        batch = await self._owned(owner, batch_id)
        plan = with_inputs(batch.plan, values, await self._servers.records(owner))
        conditions = self._conditions(plan)
        filled = batch.model_copy(update={"id": secrets.token_urlsafe(16), "plan": plan, "created_at": self._clock()})
        review = BatchReview(plan, batch.filename, batch.kind, batch.source, filled, conditions)
        shown = self._fits(review)
        async with self._db.transaction() as conn:
            if await self._batches.take(conn, batch.id) is None:
                raise ChangeExpired()
            if plan.nothing_to_change(replace=True):
                return replace(review, batch=None)
            if not shown:
                return review.withheld()
            await self._batches.insert(conn, filled)
        return review

    # -- deciding ----------------------------------------------------------------------------

    async def confirm(self, owner: Owner, batch_id: str, *, replace: bool) -> BatchOutcome:
        async def change(conn: aiosqlite.Connection, before: dict[str, ServerRecord]) -> BatchOutcome:
            batch = await self._batches.take(conn, batch_id)
            if batch is None or batch.expired(self._clock()):
                raise ChangeExpired()
            if batch.owner != owner:
                raise NotYourServer()
            if batch.plan.inputs:
                raise InputsMissing()
            items = batch.plan.changes(replace=replace or batch.always_replace)
            # Counted in this transaction: a confirmation of a single server clicked meanwhile cannot slip past.
            have = await self._repo.count_for_owner(conn, owner)
            self._check_count(have, batch.plan, replace=replace or batch.always_replace)
            return await self._apply(conn, owner, batch, items, before)

        return await self._servers.apply_change(owner, change)

    async def discard(self, owner: Owner, batch_id: str, *, restore_file: bool = True) -> PendingBatch | None:
        async with self._db.transaction() as conn:
            batch = await self._batches.take(conn, batch_id)
            if batch is not None and batch.owner != owner:
                raise NotYourServer()
        if batch is not None and batch.source == "disk" and restore_file:
            await self._servers.rewrite_mirror(owner)  # the file goes back to what runs
        return batch

    # -- exporting ---------------------------------------------------------------------------

    async def export(self, owner: Owner) -> list[ExportedFile]:
        """The owner's config as downloadable files: placeholders instead of secrets, exactly like the mirror.

        Empty when the owner has no servers."""
        records = await self._servers.records(owner)
        if not records:
            return []
        files = [ExportedFile(LOCAL_FILE, document_text(local_document(records)))]
        remote = remote_document(records)
        if remote["mcpServers"]:
            files.append(ExportedFile(REMOTE_FILE, document_text(remote)))
        return files

    # -- helpers -----------------------------------------------------------------------------

    async def _owned(self, owner: Owner, batch_id: str) -> PendingBatch:
        batch = await self._batches.peek(batch_id)
        if batch is None or batch.expired(self._clock()):
            raise ChangeExpired()
        if batch.owner != owner:
            await self._audit.record_denied(
                owner=batch.owner,
                actor=owner,
                server_name=None,
                reason="not the owner of this uploaded file",
                batch="file",
            )
            raise NotYourServer()
        return batch

    def _conditions(self, plan: ImportPlan) -> dict[str, RunConditions | None]:
        conditions: dict[str, RunConditions | None] = {}
        for item in plan.items:
            if item.config is not None and item.checked_by_policy:
                try:
                    conditions[item.name] = self._servers.conditions(item.config)
                except InvalidConfig as exc:
                    raise InvalidConfig.single("json", f"`{item.name}`: {exc}") from None
        return conditions

    def _check_count(self, current: int, plan: ImportPlan, *, replace: bool, shown_have: int | None = None) -> None:
        """The whole file fits under the owner's server limit, or it is refused whole (never trimmed)."""
        adds = sum(1 for item in plan.items if item.kind == "add")
        kept = current - (len(plan.removals) if replace else 0)
        if adds and kept + adds > self._max_servers:
            have = kept if shown_have is None else shown_have
            raise ServerLimitReached.adding_servers(have=have, adding=adds, limit=self._max_servers, what="This file")

    async def _apply(
        self,
        conn: aiosqlite.Connection,
        owner: Owner,
        batch: PendingBatch,
        items: tuple[BatchItem, ...],
        before: dict[str, ServerRecord],
    ) -> BatchOutcome:
        repo = self._repo
        names = {r.name for r in before.values()}
        now = self._clock()
        outcome = BatchOutcome([], [], [], [])
        for item in items:
            current = before.get(item.server_id or "")
            if item.kind != "add" and (current is None or current.version != item.base_version):
                raise ChangeExpired()  # changed since the owner saw it
            if item.kind == "remove":
                assert current is not None
                await repo.delete(conn, owner, current.id)
                outcome.removed.append(item.name)
                detail: dict[str, str] = {"via": batch.source}
            else:
                config = item.config
                assert isinstance(config, LocalServerConfig)
                if item.checked_by_policy:
                    self._servers.conditions(config)  # the policy may have changed since it was shown
                if current is None:
                    if item.name in names:
                        raise ServerNameTaken(item.name)
                    record = ServerRecord.approved_new(owner, item.name, config, enabled=item.enabled, now=now)
                    await repo.insert(conn, record)
                else:
                    update = {"config": config, "approved_hash": config.approval_hash(), "enabled": item.enabled}
                    record = current.model_copy(update={**update, "version": current.version + 1, "updated_at": now})
                    await repo.update(conn, record, expected_version=current.version)
                if record.enabled:
                    outcome.running.append(record)
                elif current is None:
                    outcome.added_disabled.append(record.name)
                elif current.enabled:
                    outcome.stopped.append(record.name)
                detail = {"via": batch.source, "config_sha256": record.approved_hash, "summary": summary(config)}
            action = {"add": "approved_add", "edit": "approved_edit", "remove": "removed"}[item.kind]
            await self._audit.append(conn, owner=owner, action=action, server_name=item.name, detail=detail)
        return outcome
