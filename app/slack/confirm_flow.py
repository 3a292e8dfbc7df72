"""After the owner says yes: apply each change, show `starting…`, then each server's outcome."""

from __future__ import annotations

import asyncio

from app.domain.errors import PlugboardError, ServerLimitReached
from app.domain.owner import Owner
from app.domain.remote_config import OAuthAuth, RemoteServerConfig
from app.domain.server import ServerRecord
from app.services.connector_service import ConnectorService
from app.services.server_service import ServerService
from app.slack.blocks.confirmation import progress_blocks, status_line
from app.slack.blocks.report import DONE, NextStep, next_step, not_saved_step, refused_batch_step, report_message
from app.slack.reply import Reply
from app.slack.text import code, escape


class ConfirmFlow:
    def __init__(self, servers: ServerService, connectors: ConnectorService, settle_timeout: float) -> None:
        self._servers = servers
        self._connectors = connectors
        self._settle_timeout = settle_timeout

    async def run(self, reply: Reply, owner: Owner, change_ids: list[str]) -> None:
        names = []
        for change_id in change_ids:
            try:
                names.append((await self._servers.pending(owner, change_id)).name)
            except PlugboardError:
                names.append("?")
        await reply.send("Starting…", progress_blocks([f"{code(n)}: starting…" for n in names], title="Starting"))
        lines: list[str] = []
        steps: list[NextStep] = []
        started: list[ServerRecord] = []
        try:
            outcomes = await self._servers.confirm_all(owner, change_ids)
        except PlugboardError as exc:  # e.g. the server limit: none of them was applied, all stay confirmable
            shown = ", ".join(code(name) for name in names)
            step = refused_batch_step(change_ids, can_retry=isinstance(exc, ServerLimitReached))
            await self.report(reply, [], [f":x: {shown}: {escape(str(exc))}"], title=DONE, steps=[step])
            return
        for name, record in zip(names, outcomes, strict=True):
            if isinstance(record, PlugboardError):
                lines.append(f":x: {code(name)}: {escape(str(record))}")
                steps.append(not_saved_step(name))
                continue
            if isinstance(record.config, RemoteServerConfig) and isinstance(record.config.auth, OAuthAuth):
                # The browser sign-in decides when this one is ready; its outcome arrives as a DM.
                self._connectors.start_authorization(record)
                lines.append(f":key: {code(record.name)}: check your DMs for a *Connect* button to sign in.")
            else:
                started.append(record)
        await self.report(reply, started, lines, title=DONE, steps=steps)

    async def report(
        self,
        reply: Reply,
        records: list[ServerRecord],
        lines: list[str],
        *,
        title: str,
        steps: list[NextStep] | None = None,
    ) -> None:
        """Wait for each started server to settle, then show every outcome: `title` when all went well, otherwise
        what to do about each failure (given in `steps`, or found from a server's status)."""
        steps = list(steps or [])
        statuses = await asyncio.gather(*(self._servers.wait_settled(r.id, self._settle_timeout) for r in records))
        for record, status in zip(records, statuses, strict=True):
            overview = await self._servers.get(record.owner, record.name)
            tool_names = [t.tool.name for t in overview.tools]
            icon = ":white_check_mark:" if status.state == "ready" else ":x:"
            lines.append(f"{icon} " + status_line(record.name, status, tool_names))
            if (step := next_step(record, status)) is not None:
                steps.append(step)
        text, blocks = report_message(title, lines, steps)
        await reply.send(text, blocks)
