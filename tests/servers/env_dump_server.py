"""MCP server that reports its own process environment: ``env_dump_server.py``.

Tools:
- ``dump_env{}`` -> ``json.dumps(dict(os.environ))``
- ``whoami{}`` -> JSON ``{"cwd", "home", "pid", "argv"}`` (``home`` is ``$HOME`` or null)
"""

from __future__ import annotations

import json
import os
import sys

from mcp.server import MCPServer

server = MCPServer("env-dump-server", version="1.0.0")


@server.tool(structured_output=False)
def dump_env() -> str:
    """Return this process's environment as a JSON object."""
    return json.dumps(dict(os.environ), sort_keys=True)


@server.tool(structured_output=False)
def whoami() -> str:
    """Return this process's cwd, $HOME, pid and argv as JSON."""
    return json.dumps({"cwd": os.getcwd(), "home": os.environ.get("HOME"), "pid": os.getpid(), "argv": sys.argv})


if __name__ == "__main__":
    server.run("stdio")
