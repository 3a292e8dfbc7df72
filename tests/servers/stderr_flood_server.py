"""An ``echo`` MCP server that floods stderr at startup: ``stderr_flood_server.py [--bytes N]``.

Before serving, it writes N bytes (default 5 MiB) of newline-terminated text to stderr, then serves
``echo{message}`` over stdio as usual. Used to test that per-server logs are bounded.
"""

from __future__ import annotations

import argparse
import sys

from mcp.server import MCPServer

DEFAULT_BYTES = 5 * 1024 * 1024
LINE = b"stderr flood: " + b"x" * 113 + b"\n"  # 128 bytes

server = MCPServer("stderr-flood-server", version="1.0.0")


@server.tool(structured_output=False)
def echo(message: str) -> str:
    """Return the message unchanged."""
    return message


def flood(total: int) -> None:
    err = sys.stderr.buffer
    full, rest = divmod(total, len(LINE))
    chunk = LINE * 512  # 64 KiB
    for _ in range(full // 512):
        err.write(chunk)
    err.write(LINE * (full % 512))
    if rest:
        err.write(b"x" * (rest - 1) + b"\n")
    err.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bytes", type=int, default=DEFAULT_BYTES)
    args = parser.parse_args()
    flood(max(args.bytes, 0))
    server.run("stdio")


if __name__ == "__main__":
    main()
