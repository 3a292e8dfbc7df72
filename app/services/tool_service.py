"""Listing and calling an owner's tools, with the result cut to a size Slack (or an LLM) can take."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError

from app.domain.errors import InvalidConfig, ServerNotFound, ServerUnavailable
from app.domain.owner import Owner
from app.domain.registered_tool import RegisteredTool
from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from app.domain.strict_json import loads_strict
from app.runtime.session_manager import SessionManager
from app.runtime.tool_registry import ToolRegistry
from app.security.redaction import Redactor
from app.services.admin_servers import AdminServers
from app.store.audit_log import AuditLog
from app.store.database import Database
from app.store.server_repository import ServerRepository

DEFAULT_RESULT_LIMIT = 3000
DEFAULT_AGENT_RESULT_LIMIT = 20000


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
        db: Database,
        repo: ServerRepository,
        sessions: SessionManager,
        registry: ToolRegistry,
        audit: AuditLog,
        result_limit: int = DEFAULT_RESULT_LIMIT,
        agent_result_limit: int = DEFAULT_AGENT_RESULT_LIMIT,
        admin: AdminServers | None = None,
    ) -> None:
        self._admin = admin
        self._db = db
        self._repo = repo
        self._sessions = sessions
        self._registry = registry
        self._audit = audit
        self._result_limit = result_limit
        self._agent_result_limit = agent_result_limit

    def tools(self, owner: Owner) -> list[RegisteredTool]:
        return self._registry.for_owner(owner)

    async def admin_servers(self, owner: Owner) -> list[tuple[ServerRecord, ServerStatus]]:
        """Start (lazily) and report the admin-provided servers this owner gets."""
        return await self._admin.ensure_running(owner) if self._admin else []

    async def _server(self, owner: Owner, server_name: str) -> ServerRecord:
        """The owner's own server of that name, else the admin's (loaded after the owner's own)."""
        record = await self._repo.get_by_name(owner, server_name)
        if record is None and self._admin is not None:
            await self._admin.ensure_running(owner)
            record = self._admin.record_for(owner, server_name)
        if record is None:
            raise ServerNotFound(server_name)
        return record

    def all_tools(self, owner: Owner) -> list[RegisteredTool]:
        """Allowed, denied and held alike, for showing the owner where each stands."""
        return self._registry.for_owner(owner, include_disabled=True)

    async def server_status(self, owner: Owner, server_name: str) -> ServerStatus:
        return self._sessions.status((await self._server(owner, server_name)).id)

    async def tools_of(self, owner: Owner, server_name: str) -> list[RegisteredTool]:
        record = await self._server(owner, server_name)
        return self._registry.for_server(owner, record.id, include_disabled=True)

    async def call(
        self, owner: Owner, server_name: str, tool_name: str, raw_arguments: str, *, for_agent: bool = False
    ) -> ToolOutcome:
        """Call a tool and cap its result for Slack or, with `for_agent`, for the LLM (the cut is noted in the
        text itself, since the model sees nothing else)."""
        record = await self._server(owner, server_name)
        arguments = _parse_arguments(raw_arguments)
        registered = self._registry.find(owner, record.id, tool_name)
        if registered is None:
            status = self._sessions.status(record.id)
            if status.state != "ready":
                raise ServerUnavailable(f"`{server_name}` is {status.label()}, so its tools cannot be called now.")
            raise ServerUnavailable(f"`{server_name}` has no tool `{tool_name}`. Try `/mcp tools {server_name}`.")
        if not registered.allowed:
            async with self._db.transaction() as conn:
                await self._audit.append(
                    conn,
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
            async with self._db.transaction() as conn:
                await self._audit.append(
                    conn,
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
