"""A sign-in probe: hand-written JSON-RPC requests to a remote MCP endpoint, far enough to trigger its OAuth."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping

import httpx2

from app.domain.remote_config import RemoteServerConfig

_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "plugboard-sign-in", "version": "1"},
    },
}
_INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
_LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
# The same probe on the 2026-07-28 (stateless) wire, for servers that refuse the legacy handshake outright.
_MODERN = "2026-07-28"
_MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": _MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "plugboard-sign-in", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
_DISCOVER = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "server/discover",
    "params": {"_meta": _MODERN_META},
}
_MODERN_LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": _MODERN_META}}


async def probe(client: httpx2.AsyncClient, config: RemoteServerConfig) -> int:
    """Authenticated requests to the MCP endpoint, up to listing tools: on the first 401 the provider runs the
    whole sign-in. Some servers let the handshake through and guard only what follows, so stopping at the
    handshake would leave their sign-in to a running session, which cannot ask anyone."""
    if config.transport == "sse":
        async with client.stream("GET", config.url, headers={"Accept": "text/event-stream"}) as response:
            return response.status_code
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    status, session, version = await _post(client, config.url, _INITIALIZE, headers)
    if version is not None:
        legacy = {**headers, "MCP-Protocol-Version": version, **({"mcp-session-id": session} if session else {})}
        await _post(client, config.url, _INITIALIZED, legacy)
        status, _, _ = await _post(client, config.url, _LIST_TOOLS, legacy)
    if session:  # tidy up the session the probe opened
        with contextlib.suppress(httpx2.HTTPError):
            await client.delete(config.url, headers={"mcp-session-id": session})
    if status == 400:  # a modern-only server may reject `initialize` before it looks at credentials
        for request in (_DISCOVER, _MODERN_LIST_TOOLS):
            modern = {**headers, "MCP-Protocol-Version": _MODERN, "Mcp-Method": str(request["method"])}
            status, _, _ = await _post(client, config.url, request, modern)
            if not 200 <= status < 300:
                break
    if status in (404, 405) and config.transport == "auto":
        async with client.stream("GET", config.url, headers={"Accept": "text/event-stream"}) as response:
            return response.status_code
    return status


async def _post(
    client: httpx2.AsyncClient, url: str, message: Mapping[str, object], headers: dict[str, str]
) -> tuple[int, str | None, str | None]:
    """HTTP status, session id, and for a successful `initialize` the protocol version the server chose."""
    async with client.stream("POST", url, content=json.dumps(message), headers=headers) as response:
        version = None
        if message["method"] == "initialize" and response.is_success:
            version = await _chosen_version(response)
        return response.status_code, response.headers.get("mcp-session-id"), version


async def _chosen_version(response: httpx2.Response) -> str | None:
    """`result.protocolVersion` from a JSON body or from the first SSE event carrying JSON."""
    try:
        if response.headers.get("content-type", "").startswith("application/json"):
            answer = json.loads(await response.aread())
        else:
            answer = None
            async for line in response.aiter_lines():
                if line.startswith("data:") and line[5:].strip().startswith("{"):
                    answer = json.loads(line[5:])
                    break
    except ValueError:
        return None
    result = answer.get("result") if isinstance(answer, dict) else None
    version = result.get("protocolVersion") if isinstance(result, dict) else None
    return version if isinstance(version, str) else None
