"""Steps the security tests share: add a server through Slack, call its tools, allow risky ones, watch /proc."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any

import anyio

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


# -- processes -------------------------------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (ppid, state, command line) for every process on the host."""
    found: dict[int, tuple[int, str, str]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().decode(errors="replace").rsplit(")", 1)[1].split()
            with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found[int(entry.name)] = (int(fields[1]), fields[0], cmdline)
    return found


def live_processes(marker: str) -> list[int]:
    """Live (not zombie) processes anywhere on the host whose command line contains `marker`.

    Not only our descendants: a daemon that escaped would have been re-parented away from us."""
    return [pid for pid, (_, state, cmdline) in _processes().items() if state != "Z" and marker in cmdline]


def descendant_pids(marker: str = "") -> list[int]:
    """Live descendants of this test process whose command line contains `marker`."""
    table = _processes()
    found: list[int] = []
    frontier = [os.getpid()]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _, _) in table.items() if ppid == parent and pid not in found]
        found += children
        frontier += children
    return [pid for pid in found if table[pid][1] != "Z" and marker in table[pid][2]]


def live_descendants() -> list[str]:
    """Command lines of the live descendants of this test process."""
    table = _processes()
    return [table[pid][2] for pid in descendant_pids() if pid in table]


async def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll `condition` (bounded) until it holds."""
    with anyio.move_on_after(timeout):
        while True:
            if condition():
                return
            await anyio.sleep(0.02)
    assert condition(), f"timed out after {timeout} s waiting for {what}"
