"""Tiny MCP server: ``tiny_server.py [--tools echo,add,shout] [--name NAME]``.

Tools (only those named in ``--tools`` are exposed; default ``echo,add``):
- ``echo{message: str}`` -> the message
- ``add{a: int, b: int}`` -> the sum, as text
- ``shout{message: str}`` -> the message upper-cased
- ``wait{seconds: float}`` -> "waited", after that many seconds (at most 30): a call that stays in flight
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Any

from mcp.server import MCPServer


def echo(message: str) -> str:
    """Return the message unchanged."""
    return message


def add(a: int, b: int) -> str:
    """Return a + b as text."""
    return str(a + b)


def shout(message: str) -> str:
    """Return the message upper-cased."""
    return message.upper()


async def wait(seconds: float) -> str:
    """Answer "waited" after `seconds` (at most 30)."""
    await asyncio.sleep(min(max(seconds, 0.0), 30.0))
    return "waited"


TOOLS: dict[str, Callable[..., Any]] = {"echo": echo, "add": add, "shout": shout, "wait": wait}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tools", default="echo,add", help="comma-separated subset of: " + ",".join(TOOLS))
    parser.add_argument("--name", default="tiny-server", help="serverInfo name")
    args = parser.parse_args()
    names = [n.strip() for n in args.tools.split(",") if n.strip()]
    unknown = [n for n in names if n not in TOOLS]
    if unknown:
        parser.error(f"unknown tool(s): {', '.join(unknown)}")
    server = MCPServer(args.name, version="1.0.0")
    for name in dict.fromkeys(names):
        server.add_tool(TOOLS[name], name=name, structured_output=False)
    server.run("stdio")


if __name__ == "__main__":
    main()
