"""Server and tool naming rules."""

from __future__ import annotations

import re

SERVER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
TOOL_SEPARATOR = "__"
# LLM function names allow only these characters; tools outside it are skipped.
EXPOSED_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def server_name_problem(name: str) -> str | None:
    """Why `name` is not a valid server name, or None when it is."""
    if not name:
        return "Give the server a name."
    if len(name) > 32:
        return "Names are at most 32 characters."
    if not SERVER_NAME.fullmatch(name):
        return "Use lowercase letters, digits, '-' and '_' only, starting with a letter or digit (e.g. `github`)."
    if TOOL_SEPARATOR in name:
        return "Names cannot contain '__' (it separates server and tool names)."
    return None


def exposed_tool_name(server: str, tool: str) -> str:
    return f"{server}{TOOL_SEPARATOR}{tool}"


def split_exposed_tool_name(exposed: str) -> tuple[str, str] | None:
    server, sep, tool = exposed.partition(TOOL_SEPARATOR)
    if not sep or not server or not tool:
        return None
    return server, tool
