"""Steps the security tests share: add a server through Slack, call its tools, allow risky ones."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.harness import SlackUser, text_of

# How the report after a confirmation closes: `Done` when everything worked, otherwise what to do next.
DONE = "*Done*"
WHAT_TO_DO_NEXT = "*What to do next*"


def all_worked(message: dict[str, Any]) -> bool:
    return DONE in text_of(message)


def needs_attention(message: dict[str, Any]) -> bool:
    return WHAT_TO_DO_NEXT in text_of(message)


def finished(message: dict[str, Any]) -> bool:
    """The final report, however it went."""
    return all_worked(message) or needs_attention(message)


async def add_server(user: SlackUser, name: str, entry: dict[str, Any], *, timeout: float = 30.0) -> str:
    """`/mcp add-json`, press Confirm, and return the text of the final report."""
    await user.command(f"add-json {name} {json.dumps(entry)}")
    confirmation = await user.reply()
    assert "change_confirm" in json.dumps(confirmation), text_of(confirmation)
    await user.click(confirmation, "change_confirm")
    done = await user.reply(finished, timeout=timeout)
    return text_of(done)


async def add_ready_server(user: SlackUser, name: str, entry: dict[str, Any], *, timeout: float = 30.0) -> str:
    report = await add_server(user, name, entry, timeout=timeout)
    assert f"`{name}`: ready" in report and DONE in report, report
    return report


async def call(user: SlackUser, server: str, tool: str, arguments: dict[str, Any] | None = None) -> str:
    """`/mcp call` and the text of the answer (a result or an error)."""
    suffix = f" {json.dumps(arguments)}" if arguments else ""
    response = await user.command(f"call {server} {tool}{suffix}")
    if response.text:  # answered in the ack (usage errors)
        return response.text
    return text_of(await user.reply(timeout=60.0))


def result_text(answer: str) -> str:
    """The tool's own output from a `/mcp call` answer (the code block), unescaped."""
    pieces = re.findall(r"```(.*?)```", answer, re.DOTALL)
    assert pieces, answer
    return "".join(pieces).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def allow_with_confirmation(user: SlackUser, server: str, tool: str) -> None:
    """`/mcp allow` a denylisted tool: the first answer asks again; "Allow anyway" allows it."""
    await user.command(f"allow {server} {tool}")
    warning = await user.reply()
    assert "risky-tool list" in text_of(warning), text_of(warning)
    await user.click(warning, "tool_allow_confirm")
    done = await user.reply()
    assert "is allowed (you confirmed)" in text_of(done), text_of(done)
