"""An MCP server whose tools ask their caller things mid-call: ``elicit_server.py [--legacy]``.

Tools:
- ``sign_up{}`` asks for a form (name: string, minLength 2; age: integer 0-150; plan: "free" | "pro", default
  "free") and returns ``accepted: name=<name> age=<age> plan=<plan>``, ``declined`` or ``cancelled``.
- ``summarize{text}`` asks the client's language model for a summary (MCP sampling); a client that does not
  offer sampling gets the request refused, and the call fails.
- ``ask_model_directly{}`` sends ``sampling/createMessage`` itself, mid-call (handshake era only, see below);
  a client without sampling answers with an error, which the tool reports as its result.
- ``count{steps}`` reports progress 1..steps (of steps), then returns ``counted <steps>``.
- ``open_portal{}`` asks the caller to open https://portal.example.com/connect?session=42 (URL mode) and returns
  ``url accepted``, ``url declined`` or ``url cancelled``. URL mode needs a server-to-client request mid-call,
  which MCPServer sends only on a handshake-era connection: start the server with ``--legacy`` (it then answers
  the 2026-07-28 ``server/discover`` probe with "method not found", and the client falls back to ``initialize``).

Questions go through resolvers (``Resolve`` + ``Elicit``/``Sample``), which work in both protocol eras: as
``elicitation/create`` requests mid-call (2025-11-25 and older) or as an input-required result (2026-07-28).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Annotated, Literal

from mcp.server import MCPServer
from mcp.server.elicitation import AcceptedElicitation, DeclinedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.resolve import Elicit, Sample
from mcp_types import CreateMessageResult, SamplingMessage, TextContent
from pydantic import BaseModel, Field


class SignUp(BaseModel):
    name: str = Field(min_length=2, description="Your name")
    age: int = Field(ge=0, le=150)
    plan: Literal["free", "pro"] = "free"


def ask_sign_up() -> Elicit[SignUp]:
    return Elicit("Please sign up to continue.", SignUp)


def ask_model() -> Sample:
    question = SamplingMessage(role="user", content=TextContent(type="text", text="Summarize this."))
    return Sample([question], max_tokens=50)


server = MCPServer("elicit-server", version="1.0.0")


@server.tool(structured_output=False)
async def sign_up(answer: Annotated[ElicitationResult[SignUp], Resolve(ask_sign_up)]) -> str:
    """Ask the person to sign up."""
    if isinstance(answer, AcceptedElicitation):
        data = answer.data
        return f"accepted: name={data.name} age={data.age} plan={data.plan}"
    return "declined" if isinstance(answer, DeclinedElicitation) else "cancelled"


@server.tool(structured_output=False)
async def summarize(text: str, summary: Annotated[CreateMessageResult, Resolve(ask_model)]) -> str:
    """Summarize text with the client's model."""
    return str(summary.content)


@server.tool(structured_output=False)
async def count(steps: int, ctx: Context) -> str:
    """Count to steps, reporting progress."""
    for step in range(1, steps + 1):
        await ctx.report_progress(step, steps, f"step {step}")
    return f"counted {steps}"


@server.tool(structured_output=False)
async def ask_model_directly(ctx: Context) -> str:
    """Ask the client's model without a resolver."""
    question = SamplingMessage(role="user", content=TextContent(type="text", text="Hello?"))
    try:
        answer = await ctx.request_context.session.create_message([question], max_tokens=10)
    except Exception as exc:
        return f"sampling refused: {exc}"
    return str(answer.content)


PORTAL = "https://portal.example.com/connect?session=42"


@server.tool(structured_output=False)
async def open_portal(ctx: Context) -> str:
    """Ask the person to open the portal."""
    answer = await ctx.elicit_url("Connect your account on the portal.", PORTAL, "portal-42")
    return {"accept": "url accepted", "decline": "url declined"}.get(answer.action, "url cancelled")


def refuse_discover_probes() -> None:
    """Answer `server/discover` with "method not found" before MCPServer sees it (it would lock the connection to
    2026-07-28): a thread reads the real stdin, and the server reads the rest from a pipe put on fd 0."""
    real_stdin = os.fdopen(os.dup(0), "rb")
    read_end, write_end = os.pipe()
    os.dup2(read_end, 0)
    os.close(read_end)

    def pump() -> None:
        with os.fdopen(write_end, "wb") as to_server:
            for line in real_stdin:
                try:
                    message = json.loads(line)
                except ValueError:
                    message = None
                if isinstance(message, dict) and message.get("method") == "server/discover":
                    error = {"code": -32601, "message": "Method not found"}
                    reply = {"jsonrpc": "2.0", "id": message.get("id"), "error": error}
                    os.write(1, (json.dumps(reply) + "\n").encode())  # before the handshake: nothing else writes
                    continue
                to_server.write(line)
                to_server.flush()

    threading.Thread(target=pump, daemon=True).start()


if __name__ == "__main__":
    if "--legacy" in sys.argv[1:]:
        refuse_discover_probes()
    server.run("stdio")
