"""An MCP server whose tool list changes at runtime: ``changing_server.py [--no-legacy-capability]``.

Tools:
- ``alpha{}`` -> ``"alpha"``
- ``add_tool{name}`` -> registers a new tool ``name`` (no arguments; returns ``"<name> called"``) and notifies
- ``remove_tool{name}`` -> unregisters a tool added by ``add_tool`` (or ``alpha``) and notifies
- ``set_description{tool, text}`` -> replaces ``tool``'s description and notifies

"Notifies" means both eras are told the tool list changed:
- handshake era (``initialize``, e.g. ``mode="legacy"``): a ``notifications/tools/list_changed`` notification on
  the session (``ctx.session.send_tool_list_changed()``), delivered to the client's ``message_handler``;
- 2026-07-28 (``mode="auto"``/pinned): ``ctx.notify_tools_changed()``, which reaches only
  ``client.listen(tools_list_changed=True)`` subscribers.

The tool returns only after the notification was handed to the transport, so a client that saw the tool result
can wait (bounded) for the notification. Tool order is stable: built-ins first, then added tools in order.
MCPServer alone advertises ``tools.listChanged=false`` in the handshake era; this script advertises ``true``
unless ``--no-legacy-capability`` is given.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.lowlevel import NotificationOptions
from mcp.server.mcpserver import Context
from mcp.server.stdio import stdio_server
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

server = MCPServer("changing-server", version="1.0.0")

# name -> (function, description), in listing order. The single source of truth for what is registered.
_registry: dict[str, tuple[Callable[..., Any], str | None]] = {}
_registered: list[str] = []


def _sync() -> None:
    """Re-register every tool from _registry, preserving order and descriptions."""
    for name in _registered:
        server.remove_tool(name)
    _registered.clear()
    for name, (fn, description) in _registry.items():
        server.add_tool(fn, name=name, description=description, structured_output=False)
        _registered.append(name)


async def _notify(ctx: Context) -> None:
    if ctx.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS:
        await ctx.session.send_tool_list_changed()
    await ctx.notify_tools_changed()


def alpha() -> str:
    """Return "alpha"."""
    return "alpha"


def _make_dynamic(name: str) -> Callable[[], str]:
    def dynamic() -> str:
        return f"{name} called"

    return dynamic


async def add_tool(name: str, ctx: Context) -> str:
    """Register a new argument-less tool called `name`, then notify that the tool list changed."""
    if name in _registry:
        return f"tool {name!r} already exists"
    _registry[name] = (_make_dynamic(name), f"Dynamically added tool {name}.")
    _sync()
    await _notify(ctx)
    return f"added {name}"


async def remove_tool(name: str, ctx: Context) -> str:
    """Remove the tool called `name` (not the built-in mutators), then notify that the tool list changed."""
    if name in _BUILTIN_MUTATORS or name not in _registry:
        return f"cannot remove {name!r}"
    del _registry[name]
    _sync()
    await _notify(ctx)
    return f"removed {name}"


async def set_description(tool: str, text: str, ctx: Context) -> str:
    """Replace the description of `tool` with `text`, then notify that the tool list changed."""
    if tool not in _registry:
        return f"no tool {tool!r}"
    _registry[tool] = (_registry[tool][0], text)
    _sync()
    await _notify(ctx)
    return f"description of {tool} set"


_BUILTIN_MUTATORS: dict[str, Callable[..., Any]] = {
    "add_tool": add_tool,
    "remove_tool": remove_tool,
    "set_description": set_description,
}
_registry["alpha"] = (alpha, None)
for _name, _fn in _BUILTIN_MUTATORS.items():
    _registry[_name] = (_fn, None)
_sync()


async def _run(legacy_capability: bool) -> None:
    # Private attribute: MCPServer has no public way to pass NotificationOptions to the handshake.
    lowlevel = server._lowlevel_server
    options = lowlevel.create_initialization_options(NotificationOptions(tools_changed=legacy_capability))
    async with stdio_server() as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-legacy-capability", action="store_true")
    args = parser.parse_args()
    anyio.run(_run, not args.no_legacy_capability)


if __name__ == "__main__":
    main()
