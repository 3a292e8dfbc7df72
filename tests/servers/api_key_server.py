"""An MCP server (streamable HTTP at ``/mcp``) that wants an API key: ``X-API-Key: <key>`` or
``Authorization: Bearer <key>``; anything else gets ``401 {"error": "invalid_api_key"}``.

``build_api_key_app(key)`` returns ``(asgi_app, seen)`` where ``seen`` records every request's header dict,
so tests can check which credentials arrived. Tools: ``echo{message}`` and ``add{a, b}``.

Run standalone: ``python api_key_server.py --port 8766 --key s3cret``.
"""

from __future__ import annotations

import argparse
import json
import secrets
from dataclasses import dataclass, field

from mcp.server import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass
class SeenRequests:
    headers: list[dict[str, str]] = field(default_factory=list)
    refused: int = 0


def echo(message: str) -> str:
    """Return the message unchanged."""
    return message


def add(a: int, b: int) -> str:
    """Return a + b as text."""
    return str(a + b)


class _RequireKey:
    def __init__(self, app: ASGIApp, key: str, seen: SeenRequests) -> None:
        self._app = app
        self._accepted = (key, f"Bearer {key}")
        self._seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self._seen.headers.append(headers)
        offered = [headers.get("x-api-key", ""), headers.get("authorization", "")]
        if any(secrets.compare_digest(o.encode(), a.encode()) for o in offered for a in self._accepted if o):
            await self._app(scope, receive, send)
            return
        self._seen.refused += 1
        body = json.dumps({"error": "invalid_api_key"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def build_api_key_app(key: str) -> tuple[ASGIApp, SeenRequests]:
    server = MCPServer("api-key-test-server", version="1.0.0")
    server.add_tool(echo, name="echo", structured_output=False)
    server.add_tool(add, name="add", structured_output=False)
    seen = SeenRequests()
    return _RequireKey(server.streamable_http_app(), key, seen), seen


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    app, _ = build_api_key_app(args.key)
    uvicorn.run(app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
