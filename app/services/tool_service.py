"""Listing and calling an owner's tools, with the result cut to a size Slack (or an LLM) can take."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError

from app.domain.errors import InvalidConfig, ServerNotFound, ServerUnavailable
from app.domain.owner import Owner
from app.domain.registered_tool import RegisteredTool
from app.domain.remote_config import RemoteServerConfig
from app.domain.server import ServerRecord
from app.domain.status import STOPPED, ServerStatus, idle
from app.domain.strict_json import loads_strict
from app.domain.tool_policy import StoredDecision
from app.runtime.session_manager import SessionManager
from app.runtime.tool_registry import ToolRegistry, registered_tools, stored_decision
from app.security.redaction import Redactor
from app.services.admin_servers import AdminServers
from app.store.audit_log import AuditLog
from app.store.server_repository import ServerRepository
from app.store.tool_catalog import ServerListing, ToolCatalog
from app.store.tool_state_repository import ToolStateRepository

DEFAULT_RESULT_LIMIT = 3000
DEFAULT_AGENT_RESULT_LIMIT = 20000
CACHED_RECORDS = 10_000
DEFAULT_START_WAIT = 45.0

# First use of a stored server: start it unless it runs (if its owner and the policy let it), wait until it settles.
Starter = Callable[[ServerRecord, float], Awaitable[ServerStatus]]


@dataclass(frozen=True)
class ToolOutcome:
    text: str
    is_error: bool
    truncated_chars: int
    duration_ms: int
    # Something the owner should know about the server after this call (e.g. its home is full).
    notice: str | None = None


class ToolService:
    def __init__(
        self,
        repo: ServerRepository,
        sessions: SessionManager,
        registry: ToolRegistry,
        audit: AuditLog,
        result_limit: int = DEFAULT_RESULT_LIMIT,
        agent_result_limit: int = DEFAULT_AGENT_RESULT_LIMIT,
        admin: AdminServers | None = None,
        catalog: ToolCatalog | None = None,
        tool_states: ToolStateRepository | None = None,
        start_wait: float = DEFAULT_START_WAIT,
        starter: Starter | None = None,
    ) -> None:
        self._admin = admin
        self._catalog = catalog
        self._tool_states = tool_states
        self._start_wait = start_wait
        self._starter = starter
        self._repo = repo
        self._sessions = sessions
        self._registry = registry
        # (owner id, server name) -> (the owner's tools generation when read, the record): see `_server`.
        self._records: OrderedDict[tuple[str, str], tuple[int, ServerRecord]] = OrderedDict()
        self._audit = audit
        self._result_limit = result_limit
        self._agent_result_limit = agent_result_limit

    def tools_generation(self, owner: Owner) -> int:
        """Changes whenever the owner's tools may have changed: the assistant's per-thread cache compares it."""
        return self._registry.generation(owner)

    def tools(self, owner: Owner) -> list[RegisteredTool]:
        return self._registry.for_owner(owner)

    async def admin_servers(self, owner: Owner) -> list[tuple[ServerRecord, ServerStatus]]:
        """The admin-provided servers this owner gets, with their status; nothing is started."""
        records = await self._admin.visible(owner) if self._admin else []
        counts = await self._catalog.tool_counts(owner) if records and self._catalog else {}
        return [(record, self._status(record, counts)) for record in records]

    def _status(self, record: ServerRecord, counts: dict[str, int]) -> ServerStatus:
        status = self._sessions.status(record.id)
        return idle(counts.get(record.id)) if status == STOPPED and record.enabled else status

    async def _server(self, owner: Owner, server_name: str) -> ServerRecord:
        """The owner's own server of that name, else the admin's (loaded after the owner's own).

        The owner's own record is cached until anything about their servers changes (`ToolRegistry.touch`, done on
        every committed change and revocation), so a call in a busy conversation does not read the database."""
        generation = self._registry.generation(owner)
        cached = self._records.get((owner.id, server_name))
        if cached is not None and cached[0] == generation:
            self._records.move_to_end((owner.id, server_name))
            return cached[1]
        record = await self._repo.get_by_name(owner, server_name)
        if record is not None and self._registry.generation(owner) == generation:
            self._records[(owner.id, server_name)] = (generation, record)
            while len(self._records) > CACHED_RECORDS:
                self._records.popitem(last=False)
        if record is None and self._admin is not None:
            record = self._admin.record_for(owner, server_name)
        if record is None:
            raise ServerNotFound(server_name)
        return record

    async def _start(self, record: ServerRecord) -> ServerStatus:
        if self._starter is None:
            return await self._sessions.ensure_started(record, self._start_wait)
        return await self._starter(record, self._start_wait)

    # -- the catalog: every tool an owner has, running or not ----------------------------------

    async def catalog(self, owner: Owner, *, include_disabled: bool = False) -> list[RegisteredTool]:
        """The owner's tools in load order: their local servers, their remote servers, then the admin's servers the
        policy gives them. A running server's tools come from its live listing, any other's from the stored catalog,
        each with its current policy state (held and denied ones only with `include_disabled`). A server that has
        never listed its tools is started for it (first use, bounded wait)."""
        records = await self._load_order(owner)
        listings = await self._catalog.for_owner(owner) if self._catalog else {}
        never_listed = [r for r in records if r.id not in listings and not self._registry.has(owner, r.id)]
        if never_listed:
            await asyncio.gather(*(self._start(record) for record in never_listed))
        decisions = await self._tool_states.for_owner(owner) if self._tool_states else {}
        tools = [t for r in records for t in self._tools_of(owner, r, listings.get(r.id), decisions.get(r.id, {}))]
        return [t for t in tools if include_disabled or t.allowed]

    async def server_names(self, owner: Owner) -> list[str]:
        """The owner's enabled servers in load order (own local, own remote, the admin's), without starting any."""
        return list(dict.fromkeys(record.name for record in await self._load_order(owner)))

    async def _load_order(self, owner: Owner) -> list[ServerRecord]:
        own = [r for r in await self._repo.list_for_owner(owner) if r.enabled and r.approved]
        local = [r for r in own if not isinstance(r.config, RemoteServerConfig)]
        remote = [r for r in own if isinstance(r.config, RemoteServerConfig)]
        admin = await self._admin.visible(owner) if self._admin else []
        return [*local, *remote, *admin]

    def _tools_of(
        self,
        owner: Owner,
        record: ServerRecord,
        listing: ServerListing | None,
        stored: dict[str, StoredDecision],
    ) -> list[RegisteredTool]:
        if self._registry.has(owner, record.id):
            return self._registry.for_server(owner, record.id, include_disabled=True)
        if listing is None:
            return []
        found = (stored_decision(e.tool.name, e.pin, stored.get(e.tool.name)) for e in listing.tools)
        decisions = [d for d in found if d is not None]  # a tool without a decision is denied by registered_tools
        return registered_tools(
            record.id, record.name, [e.tool for e in listing.tools], decisions, self._registry.description_limit
        )

    def all_tools(self, owner: Owner) -> list[RegisteredTool]:
        """Allowed, denied and held alike, for showing the owner where each stands."""
        return self._registry.for_owner(owner, include_disabled=True)

    def is_running(self, server_id: str) -> bool:
        """Whether a server has a live session now (in memory: a call to one that is not will start it)."""
        return self._sessions.is_live(server_id)

    async def server_status(self, owner: Owner, server_name: str) -> ServerStatus:
        record = await self._server(owner, server_name)
        counts = await self._catalog.tool_counts(owner) if self._catalog else {}
        return self._status(record, counts)

    async def tools_of(self, owner: Owner, server_name: str) -> list[RegisteredTool]:
        """One server's tools, allowed or not, from its live or stored listing; never listed: started first."""
        record = await self._server(owner, server_name)
        if not record.enabled:
            return []  # a disabled server offers nothing
        listings = await self._catalog.for_owner(owner) if self._catalog else {}
        if record.id not in listings and not self._registry.has(owner, record.id):
            await self._start(record)
        decisions = await self._tool_states.for_server(record.id) if self._tool_states else {}
        return self._tools_of(owner, record, listings.get(record.id), decisions)

    async def call(
        self,
        owner: Owner,
        server_name: str,
        tool_name: str,
        raw_arguments: str,
        *,
        for_agent: bool = False,
        via: str = "slack",
        link: str | None = None,
    ) -> ToolOutcome:
        """Call a tool and cap its result for Slack or, with `for_agent`, for the LLM (the cut is noted in the
        text itself, since the model sees nothing else)."""
        record = await self._server(owner, server_name)
        arguments = _parse_arguments(raw_arguments)
        status = self._sessions.status(record.id)
        if not self._registry.has(owner, record.id):  # not running: this call is its first use
            status = await self._start(record)
        registered = self._registry.find(owner, record.id, tool_name)
        if registered is None:
            if status.state != "ready":
                raise ServerUnavailable(f"`{server_name}` is {status.label()}, so its tools cannot be called now.")
            raise ServerUnavailable(f"`{server_name}` has no tool `{tool_name}`. Try `/mcp tools {server_name}`.")
        if not registered.allowed:
            await self._audit.record(
                owner=owner,
                action="tool_call_refused",
                server_name=server_name,
                detail={"tool": tool_name, "state": registered.state},
            )
            raise ServerUnavailable(
                f"`{server_name}__{tool_name}` is {registered.state} ({registered.reason}). "
                f"`/mcp allow {server_name}__{tool_name}` lets you use it."
            )
        redact = Redactor(record.config.secret_values())  # for what we write about the call, not its result
        started = time.monotonic()
        outcome = "ok"
        sizes: dict[str, int | bool] = {}
        text, cut = "", 0
        try:
            result = await self._sessions.call_tool(record.id, tool_name, arguments)
            full = render_result(result)
            text, cut = cap_text(full, self._agent_result_limit if for_agent else self._result_limit)
            if cut and for_agent:
                text += f"\n…[truncated {cut} characters]"
            outcome = "tool_error" if result.is_error else "ok"
            sizes = {"result_chars": len(full), "result_bytes": len(full.encode()), "truncated": cut > 0}
        except (MCPError, LookupError) as exc:
            outcome = "failed"
            status = self._sessions.status(record.id)
            reason = (
                "the server needs you to sign in again (`/mcp list` → Reconnect)"
                if (status.state == "needs_auth")
                else redact(_describe(exc))
            )
            raise ServerUnavailable(f"`{server_name}__{tool_name}` failed: {reason}") from None
        finally:
            duration_ms = int((time.monotonic() - started) * 1000)
            await self._audit.record(
                owner=owner,
                action="tool_call",
                server_name=server_name,
                detail={
                    "tool": tool_name,
                    "pin": registered.pin,
                    "args_sha256": _digest(arguments),
                    "args_preview": redacted_preview(arguments, redact=redact),
                    "outcome": outcome,
                    "duration_ms": duration_ms,
                    **sizes,
                    # Who asked: a command or form ("slack") or the assistant, with the thread it was in.
                    "via": via,
                    **({"link": link} if link else {}),
                },
            )
        notice = self._sessions.notice(record)
        return ToolOutcome(text, bool(result.is_error), cut, duration_ms, notice)


def _parse_arguments(raw: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    value = loads_strict(raw, field="arguments")
    if not isinstance(value, dict):
        raise InvalidConfig.single("arguments", 'Tool arguments must be a JSON object, e.g. `{"message": "hi"}`.')
    return value


def render_result(result: types.CallToolResult) -> str:
    parts: list[str] = []
    for item in result.content:
        if isinstance(item, types.TextContent):
            parts.append(item.text)
        elif isinstance(item, types.ImageContent):
            parts.append(f"[image {item.mime_type}, {len(item.data) * 3 // 4} bytes]")
        elif isinstance(item, types.AudioContent):
            parts.append(f"[audio {item.mime_type}]")
        elif isinstance(item, types.ResourceLink):
            parts.append(f"[resource {item.uri}]")
        elif isinstance(item, types.EmbeddedResource):
            resource = item.resource
            parts.append(
                resource.text if isinstance(resource, types.TextResourceContents) else f"[resource {resource.uri}]"
            )
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, indent=2))
    return "\n".join(parts) if parts else "(no content)"


_SECRETISH = re.compile(r"(token|secret|password|passwd|key|auth|cookie|session)", re.IGNORECASE)
# Values that are credentials whatever their key is called (Slack, bearer, JWT, common API key shapes).
_SECRET_VALUE = re.compile(
    r"xox[abposr]-|xapp-|\bBearer\s+\S|eyJ[\w-]{8,}\.eyJ|\bsk-[A-Za-z0-9_-]{16,}|\bgh[pousr]_[A-Za-z0-9]{20,}|"
    r"\bAKIA[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)


def redacted_preview(
    arguments: dict[str, Any], limit: int = 200, *, redact: Callable[[str], str] = lambda text: text
) -> str:
    """Argument shapes for the audit log: values of secret-looking keys masked, the server's own secrets
    (`redact`) replaced before anything is cut short, the rest cut short."""

    def mask(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {redact(k): mask(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(v, key) for v in value[:10]]
        if _SECRETISH.search(key) or (isinstance(value, str) and _SECRET_VALUE.search(value)):
            return "***"
        return redact(value)[:40] if isinstance(value, str) else value

    text = json.dumps(mask(arguments), sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cap_text(text: str, limit: int) -> tuple[str, int]:
    """Cut to `limit` characters; the caller shows how much was cut."""
    if len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def _digest(arguments: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(arguments, sort_keys=True).encode()).hexdigest()


def _describe(exc: Exception) -> str:
    if isinstance(exc, MCPError):
        if exc.code == types.REQUEST_TIMEOUT:
            return "the server did not answer in time"
        return exc.message if len(exc.message) <= 500 else exc.message[:500] + "…"  # the server wrote it
    return "the server is not running"
