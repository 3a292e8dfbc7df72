"""A working MCP server that can be made to die: ``crash_server.py [--crash-on-start-file PATH]``.

Tools:
- ``ping{}`` -> ``"pong"``
- ``crash{}`` -> the process exits abruptly with status 3 (``os._exit``; no reply is sent)

With ``--crash-on-start-file PATH``: if PATH exists at startup, print an error to stderr and exit with status 1
before importing the SDK or reading anything (a fast crash loop). Create/delete the file to switch the loop on
and off between restarts.
"""

from __future__ import annotations

import argparse
import os
import sys

CRASH_EXIT_CODE = 3
START_CRASH_EXIT_CODE = 1


def ping() -> str:
    """Return "pong"."""
    return "pong"


def crash() -> str:
    """Terminate the server process immediately with exit status 3."""
    sys.stderr.write(f"crash_server: crash tool called, exiting with status {CRASH_EXIT_CODE}\n")
    sys.stderr.flush()
    os._exit(CRASH_EXIT_CODE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--crash-on-start-file", default=None)
    args = parser.parse_args()
    if args.crash_on_start_file and os.path.exists(args.crash_on_start_file):
        sys.stderr.write(f"crash_server: {args.crash_on_start_file} exists, refusing to start\n")
        sys.stderr.flush()
        sys.exit(START_CRASH_EXIT_CODE)

    from mcp.server import MCPServer  # imported late so the crash loop above stays fast

    server = MCPServer("crash-server", version="1.0.0")
    server.add_tool(ping, structured_output=False)
    server.add_tool(crash, structured_output=False)
    server.run("stdio")


if __name__ == "__main__":
    main()
