"""An MCP server with one tool whose input has every kind of field a form can show: ``form_server.py``.

``book{...}`` returns its arguments as sorted JSON (what it received, exactly); ``big{size}`` returns ``size``
characters of text (for results too long for one Slack message).
"""

from __future__ import annotations

import datetime
import json
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from pydantic import AnyUrl, Field

server = MCPServer("form-server", version="1.0.0")


@server.tool(structured_output=False)
def book(
    title: Annotated[str, Field(description="What to call the booking")],
    guests: Annotated[int, Field(ge=1, le=5)] = 2,
    room: Literal["small", "large"] = "small",
    notes: Annotated[str | None, Field(max_length=1000)] = None,
    email: Annotated[str | None, Field(json_schema_extra={"format": "email"})] = None,
    site: AnyUrl | None = None,
    day: datetime.date | None = None,
    at: datetime.datetime | None = None,
    budget: Annotated[float | None, Field(ge=0)] = None,
    breakfast: bool = False,
    extras: list[Literal["parking", "late_checkout", "crib"]] | None = None,
    names: list[str] | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    """Book a room; answers with what it received."""
    received = {k: v for k, v in locals().items() if v is not None}
    return json.dumps(received, sort_keys=True, default=str)


@server.tool(structured_output=False)
def big(size: int) -> str:
    """Return size characters of text."""
    line = "0123456789abcdefghijklmnopqrstuvwxyz\n"
    return (line * (size // len(line) + 1))[:size]


if __name__ == "__main__":
    server.run("stdio")
