"""An MCP server whose tool description comes from a file: ``home_described_server.py``.

Tools:
- ``greet{name}`` -> ``"hello <name>"``; its description is the content of ``$HOME/description.txt`` when that
  file exists at start-up, else ``"Greet someone."``. A test changes the file and restarts the server to play a
  definition that changed across a reconnect.
"""

from __future__ import annotations

import os
from pathlib import Path

from mcp.server import MCPServer


def greet(name: str) -> str:
    return f"hello {name}"


def main() -> None:
    file = Path(os.environ.get("HOME", "/nonexistent")) / "description.txt"
    description = file.read_text() if file.is_file() else "Greet someone."
    server = MCPServer("home-described-server", version="1.0.0")
    server.add_tool(greet, description=description, structured_output=False)
    server.run("stdio")


if __name__ == "__main__":
    main()
