"""Listing and calling an owner's tools, with the result cut to a size Slack (or an LLM) can take."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError

from app.domain.errors import InvalidConfig, ServerNotFound, ServerUnavailable
from app.domain.owner import Owner
from app.domain.strict_json import loads_strict
from app.runtime.session_manager import SessionManager
from app.runtime.tool_registry import RegisteredTool, ToolRegistry
from app.store.audit_log import AuditLog
from app.store.database import Database
from app.store.server_repository import ServerRepository

DEFAULT_RESULT_LIMIT = 3000


@dataclass(frozen=True)
class ToolOutcome:
    text: str
    is_error: bool
    truncated_chars: int
    duration_ms: int


class ToolService:
    def __init__(
        self,
        db: Database,
        repo: ServerRepository,
        sessions: SessionManager,
        registry: ToolRegistry,
        audit: AuditLog,
        result_limit: int = DEFAULT_RESULT_LIMIT,
    ) -> None:
        self._db = db
        self._repo = repo
        self._sessions = sessions
        self._registry = registry
        self._audit = audit
        self._result_limit = result_limit

    def tools(self, owner: Owner) -> list[RegisteredTool]:
        return self._registry.for_owner(owner)

    async def tools_of(self, owner: Owner, server_name: str) -> list[RegisteredTool]:
        record = await self._repo.get_by_name(owner, server_name)
        if record is None:
            raise ServerNotFound(server_name)
        return self._registry.for_server(owner, record.id)

    async def call(self, owner: Owner, server_name: str, tool_name: str, raw_arguments: str) -> ToolOutcome:
        record = await self._repo.get_by_name(owner, server_name)
        if record is None:
            raise ServerNotFound(server_name)
        arguments = _parse_arguments(raw_arguments)
        if self._registry.find(owner, record.id, tool_name) is None:
            status = self._sessions.status(record.id)
            if status.state != "ready":
                raise ServerUnavailable(f"`{server_name}` is {status.label()}, so its tools cannot be called now.")
            raise ServerUnavailable(f"`{server_name}` has no tool `{tool_name}`. Try `/mcp tools {server_name}`.")
        started = time.monotonic()
        outcome = "ok"
        try:
            result = await self._sessions.call_tool(record.id, tool_name, arguments)
        except (MCPError, LookupError) as exc:
            outcome = "failed"
            raise ServerUnavailable(f"`{server_name}__{tool_name}` failed: {_describe(exc)}") from None
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
                        "args_sha256": _digest(arguments),
                        "outcome": outcome,
                        "duration_ms": duration_ms,
                    },
                )
        text = render_result(result)
        cut = max(0, len(text) - self._result_limit)
        if cut:
            text = text[: self._result_limit]
        return ToolOutcome(text, bool(result.is_error), cut, duration_ms)


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


def _digest(arguments: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(arguments, sort_keys=True).encode()).hexdigest()


def _describe(exc: Exception) -> str:
    if isinstance(exc, MCPError):
        if exc.code == types.REQUEST_TIMEOUT:
            return "the server did not answer in time"
        return exc.message
    return "the server is not running"
