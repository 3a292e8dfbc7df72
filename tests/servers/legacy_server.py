"""A hand-rolled, handshake-era-only MCP server (stdlib only): ``legacy_server.py [--discover error|ignore]``.

MCPServer serves both eras and locks a connection to the era of its first request, so it cannot stand in for
an old server. This one only knows ``initialize`` (2024-11-05 .. 2025-11-25), ``ping``, ``tools/list`` and
``tools/call`` with one tool, ``echo{message}``. ``--name NAME`` sets serverInfo name.

``--discover`` decides what a 2026-07-28 ``server/discover`` probe (``mode="auto"``) gets:
- ``error`` (default): JSON-RPC -32601 Method not found, like a well-behaved legacy server; auto falls back fast.
- ``ignore``: no answer at all, like servers that drop unknown requests before ``initialize``; auto waits out
  its fixed 10 s probe before falling back.

It exits when stdin closes.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
ECHO_TOOL = {
    "name": "echo",
    "description": "Return the message unchanged.",
    "inputSchema": {
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
    },
}


def _text_result(text: str, *, is_error: bool = False) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": is_error}


def handle(method: str, params: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the result for a request, or raise LookupError for an unknown method."""
    if method == "initialize":
        requested = params.get("protocolVersion")
        return {
            "protocolVersion": requested if requested in VERSIONS else VERSIONS[-1],
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": name, "version": "1.0.0"},
        }
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": [ECHO_TOOL]}
    if method == "tools/call":
        arguments = params.get("arguments") or {}
        if params.get("name") != "echo":
            return _text_result(f"Unknown tool: {params.get('name')}", is_error=True)
        if not isinstance(arguments.get("message"), str):
            return _text_result("echo needs a string 'message'", is_error=True)
        return _text_result(arguments["message"])
    raise LookupError(method)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--discover", choices=["error", "ignore"], default="error")
    parser.add_argument("--name", default="legacy-server")
    args = parser.parse_args()
    out = sys.stdout

    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            send({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}})
            continue
        if not isinstance(message, dict) or "method" not in message or "id" not in message:
            continue  # notifications and responses need no answer
        method, request_id = message["method"], message["id"]
        if method == "server/discover" and args.discover == "ignore":
            continue
        try:
            result = handle(method, message.get("params") or {}, args.name)
        except LookupError:
            send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": "Method not found"}})
        else:
            send({"jsonrpc": "2.0", "id": request_id, "result": result})


if __name__ == "__main__":
    main()
