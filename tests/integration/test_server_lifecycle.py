"""A new user runs a local MCP server through its whole life in Slack: add, confirm, use, edit, disable,
enable, remove -- with the app never restarted and other servers left alone.

Real app (bootstrap.build) in HTTP mode, signed Slack payloads, FakeSlack, real stdio servers: the tiny test
servers, the published ``mcp-server-time`` (PyPI) and ``@modelcontextprotocol/server-everything`` (npm).
Waits are bounded; "process gone" is checked in /proc; every child must be reaped by the end of each test.
Local servers run in bubblewrap's own PID namespace (a server's `whoami` pid is always 2 there), so "the same
process" is judged by host pids found in /proc below this test process.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from tests.servers import PYTHON, SERVERS_DIR, server_path
from tests.support import slack_payloads as payloads
from tests.support.harness import Harness, SlackUser, policy_toml, text_of
from tests.support.processes import descendants as _descendants
from tests.support.processes import (
    every_child_reaped,  # noqa: F401  (autouse fixture)
    process,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.anyio

OWNER = Owner(team_id=payloads.TEAM_ID, user_id=payloads.USER_ID)
TIME_SERVER = str(Path(sys.executable).parent / "mcp-server-time")
EVERYTHING_SERVER = str(SERVERS_DIR / "node_modules" / ".bin" / "mcp-server-everything")
SETTLE = 30.0  # bound on "confirm -> ready" (covers a cold node / PyPI server start)
TOOL_NAME = re.compile(r"`([a-z0-9][a-z0-9_-]*__[A-Za-z0-9_-]+)`")


# -- processes ---------------------------------------------------------------------------------------------


WRAPPERS = {"bwrap", "prlimit", "sh"}  # the sandbox's own processes around a local server


def server_pids(needle: str) -> set[int]:
    """Host pids of every process of the servers whose command line mentions `needle` (sandbox wrappers too)."""
    return {pid for pid, argv in _descendants().items() if any(needle in part for part in argv)}


def one_server_pid(needle: str) -> int:
    """The host pid of the one server process (not its wrappers) whose command line mentions `needle`."""
    pids = {
        pid
        for pid, argv in _descendants().items()
        if any(needle in part for part in argv) and os.path.basename(argv[0]) not in WRAPPERS
    }
    assert len(pids) == 1, f"expected exactly one {needle} server process, found {sorted(pids)}"
    return pids.pop()


def gone(pids: int | set[int]) -> bool:
    """None of these processes runs any more, and none waits for *us* to reap it.

    Strictly absent from /proc, except for one allowed leftover: bwrap's PID-namespace init, which dies with its
    parent bwrap and is then a zombie of the host's init (pid 1) for a moment -- no longer anything of ours.
    """
    ours = {os.getpid(), *_descendants()}
    for pid in {pids} if isinstance(pids, int) else pids:
        entry = process(pid)
        if entry is not None and (entry.state != "Z" or entry.ppid in ours):
            return False
    return True


# -- Slack conversations -----------------------------------------------------------------------------------


def titled(title: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: f"*{title}*" in text_of(message)


def prefilled(view: dict[str, Any]) -> dict[str, str | None]:
    """What the user sees in each input of a modal before typing (a real submission sends these back)."""
    return {
        block["block_id"]: block["element"].get("initial_value")
        for block in view["blocks"]
        if block.get("type") == "input"
    }


async def review_through_modal(
    user: SlackUser, name: str, command: str, args: list[str], env: str = ""
) -> dict[str, Any]:
    view = await user.open_modal("add")
    assert view["callback_id"] == "server_add"
    response = await user.submit(
        view, {"name": name, "command": command, "args": "\n".join(args), "env": env or None, "cwd": None}
    )
    assert response.text == "", f"the modal did not close: {response.text}"
    return await user.reply(lambda m: "Review before running" in text_of(m))


async def confirm(user: SlackUser, confirmation: dict[str, Any], title: str = "Done") -> str:
    await user.click(confirmation, "change_confirm")
    return text_of(await user.reply(titled(title), timeout=SETTLE + 5))


async def add_server(user: SlackUser, name: str, command: str, args: list[str], env: str = "") -> str:
    confirmation = await review_through_modal(user, name, command, args, env)
    outcome = await confirm(user, confirmation)
    assert f"`{name}`: ready" in outcome, outcome
    return outcome


async def ask(user: SlackUser, text: str, predicate: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
    await user.command(text)
    return await user.reply(predicate)


async def tool_names(user: SlackUser, server: str) -> set[str]:
    return set(TOOL_NAME.findall(text_of(await ask(user, f"tools {server}"))))


def result_text(message: dict[str, Any]) -> str:
    """The tool result a /mcp call shows, un-escaped; fails with what was shown when there is none."""
    pieces = [
        block["text"]["text"]
        for block in message.get("blocks") or []
        if block.get("type") == "section" and block["text"]["text"].startswith("```")
    ]
    assert pieces, f"no tool result shown: {text_of(message)}"
    text = "".join(piece[3:-3] for piece in pieces)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def call_tool(user: SlackUser, server: str, tool: str, arguments: dict[str, Any] | None = None) -> str:
    suffix = f" {json.dumps(arguments)}" if arguments is not None else ""
    message = await ask(user, f"call {server} {tool}{suffix}")
    assert ":x:" not in text_of(message), text_of(message)
    return result_text(message)


def mirror(harness: Harness) -> dict[str, Any]:
    path = harness.data_dir / "users" / OWNER.id / "mcp.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


async def server_id(harness: Harness, name: str) -> str:
    return (await harness.app.servers.get(OWNER, name)).record.id


# -- the lifecycle -----------------------------------------------------------------------------------------


async def test_local_server_is_added_edited_disabled_enabled_and_removed_without_restarting_the_app(
    harness: Harness,
) -> None:
    alice = harness.user()
    tiny, env_dump = server_path("tiny_server"), server_path("env_dump_server")
    await add_server(alice, "bystander", PYTHON, [env_dump])
    bystander = server_pids(env_dump)
    assert bystander, "the bystander server is not running"

    # Add through the modal: the confirmation shows the exact command line, the secret never.
    confirmation = await review_through_modal(
        alice, "tiny", PYTHON, [tiny, "--tools", "echo,add"], env="API_TOKEN=tiny-s3cret-value"
    )
    shown = text_of(confirmation)
    assert f"{tiny} --tools echo,add" in shown
    assert "API_TOKEN" in shown and "tiny-s3cret-value" not in json.dumps(confirmation)
    assert server_pids(tiny) == set(), "something ran before the owner confirmed"
    outcome = await confirm(alice, confirmation)
    assert "`tiny`: ready — 2 tools" in outcome, outcome
    assert await tool_names(alice, "tiny") == {"tiny__echo", "tiny__add"}
    assert await call_tool(alice, "tiny", "add", {"a": 2, "b": 40}) == "42"
    first_tiny = server_pids(tiny)

    # Edit: the modal is prefilled, the secret shows as its placeholder only.
    mark = harness.slack.mark()
    view = await alice.open_modal("edit tiny")
    assert view["callback_id"] == "server_edit"
    fields = prefilled(view)
    assert fields["command"] == PYTHON
    assert fields["args"] == f"{tiny}\n--tools\necho,add"
    assert fields["env"] == "API_TOKEN=${secret:API_TOKEN}"
    assert "tiny-s3cret-value" not in json.dumps([c.params for c in harness.slack.calls[mark:]])

    await alice.submit(view, {**fields, "args": f"{tiny}\n--tools\necho,shout"})
    reconfirmation = await alice.reply(lambda m: "Review before running" in text_of(m))
    shown = text_of(reconfirmation)
    assert "Change server `tiny`" in shown and f"{tiny} --tools echo,shout" in shown, shown
    assert await tool_names(alice, "tiny") == {"tiny__echo", "tiny__add"}, "the edit applied before confirmation"
    assert server_pids(tiny) == first_tiny

    outcome = await confirm(alice, reconfirmation)
    assert "`tiny`: ready — 2 tools" in outcome, outcome
    assert await tool_names(alice, "tiny") == {"tiny__echo", "tiny__shout"}
    assert await call_tool(alice, "tiny", "echo", {"message": "hot reload"}) == "hot reload"
    # The new copy served first; the old one stops right after (hot restart), so its exit is awaited (bounded).
    await wait_until(lambda: gone(first_tiny), timeout=10, what="the edited server's old process to exit")
    assert server_pids(env_dump) == bystander, "an unrelated server was restarted by the edit"
    kept = (await harness.app.servers.get(OWNER, "tiny")).record.config
    assert isinstance(kept, LocalServerConfig)
    assert kept.env == {"API_TOKEN": "tiny-s3cret-value"}, "the kept ${secret:…} placeholder lost the stored value"

    # Disable: the process is gone and no tools are offered.
    running = server_pids(tiny)
    disabled = text_of(await ask(alice, "disable tiny"))
    assert "disabled" in disabled, disabled
    assert gone(running), f"tiny ({sorted(running)}) still exists after /mcp disable"
    assert server_pids(tiny) == set()
    no_tools = text_of(await ask(alice, "tools tiny"))
    assert "no tools" in no_tools and "tiny__" not in no_tools, no_tools
    assert mirror(harness)["mcpServers"]["tiny"]["disabled"] is True

    # Enable: ready again with the edited tools.
    enabled = text_of(await ask(alice, "enable tiny", titled("Enabled tiny")))
    assert "`tiny`: ready — 2 tools" in enabled, enabled
    assert await tool_names(alice, "tiny") == {"tiny__echo", "tiny__shout"}
    assert "disabled" not in mirror(harness)["mcpServers"]["tiny"]

    # Remove: a Remove / Keep prompt; Remove stops it and deletes it everywhere.
    running = server_pids(tiny)
    prompt = await ask(alice, "remove tiny")
    labels = [e["text"]["text"] for b in prompt["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert labels == ["Remove", "Keep it"], labels
    assert server_pids(tiny) == running, "the prompt alone must not stop anything"
    await alice.click(prompt, "remove_confirm")
    removed = text_of(await alice.reply())
    assert "Removed `tiny`" in removed, removed
    assert gone(running), f"tiny ({sorted(running)}) still exists after removal"
    listed = text_of(await ask(alice, "list"))
    assert "*bystander*" in listed and "tiny" not in listed, listed
    assert set(mirror(harness)["mcpServers"]) == {"bystander"}
    assert [o.record.name for o in await harness.app.servers.overview(OWNER)] == ["bystander"]
    assert server_pids(env_dump) == bystander, "removing tiny touched another server"


async def test_tools_an_owner_confirmed_edit_brings_can_be_called_right_away(harness: Harness) -> None:
    """The owner saw `--tools echo,shout` and said yes; `shout` is not on the risky-tool denylist."""
    alice = harness.user()
    tiny = server_path("tiny_server")
    await add_server(alice, "tiny", PYTHON, [tiny, "--tools", "echo,add"])
    view = await alice.open_modal("edit tiny")
    await alice.submit(view, {**prefilled(view), "args": f"{tiny}\n--tools\necho,shout"})
    outcome = await confirm(alice, await alice.reply(lambda m: "Review before running" in text_of(m)))
    assert await call_tool(alice, "tiny", "shout", {"message": "hot reload"}) == "HOT RELOAD"
    assert "`tiny`: ready — 2 tools: `echo`, `shout`" in outcome, outcome


async def test_server_list_shows_status_and_tool_count_with_a_menu_whose_disable_option_stops_the_server(
    harness: Harness,
) -> None:
    alice = harness.user()
    tiny = server_path("tiny_server")
    await add_server(alice, "tiny", PYTHON, [tiny, "--tools", "echo,add,shout"])
    running = server_pids(tiny)
    ident = await server_id(harness, "tiny")

    listing = await ask(alice, "list")
    row = next(b for b in listing["blocks"] if b.get("block_id") == f"server:{ident}")
    assert "*tiny*" in row["text"]["text"] and "ready — 3 tools" in row["text"]["text"], row
    assert tiny in row["text"]["text"]
    menu = row["accessory"]
    assert menu["type"] == "overflow"
    assert [o["text"]["text"] for o in menu["options"]] == ["Edit", "Disable", "Remove"]

    await alice.click(listing, "server_menu", selected=f"disable:{ident}")
    answer = text_of(await alice.reply())
    assert "disabled" in answer, answer
    assert gone(running), "the Disable menu option left the process running"
    assert await tool_names(alice, "tiny") == set()

    listing = await ask(alice, "list")
    row = next(b for b in listing["blocks"] if b.get("block_id") == f"server:{ident}")
    assert "disabled" in row["text"]["text"], row
    assert [o["text"]["text"] for o in row["accessory"]["options"]] == ["Edit", "Enable", "Remove"]

    await alice.click(listing, "server_menu", selected=f"enable:{ident}")
    assert "`tiny`: ready — 3 tools" in text_of(await alice.reply(titled("Enabled tiny"), timeout=SETTLE))

    # Edit from the menu opens the prefilled modal; Remove from the menu asks first.
    mark = harness.slack.mark()
    await alice.click(listing, "server_menu", selected=f"edit:{ident}")
    opened = await harness.slack.wait_for("views.open", after=mark)
    assert opened.ok, opened.response
    assert opened.params["view"]["callback_id"] == "server_edit"
    await alice.click(listing, "server_menu", selected=f"remove:{ident}")
    prompt = await alice.reply()
    await alice.click(prompt, "remove_cancel")
    assert "Nothing was removed" in text_of(await alice.reply())
    assert [o.record.name for o in await harness.app.servers.overview(OWNER)] == ["tiny"]
    one_server_pid(tiny)


async def published_server_lifecycle(
    harness: Harness,
    *,
    name: str,
    command: str,
    needle: str,
    expected_tools: set[str],
    call: tuple[str, dict[str, Any]],
    expect_in_result: str,
    min_tools: int | None = None,
) -> None:
    alice = harness.user()
    outcome = await add_server(alice, name, command, [])
    tools = await tool_names(alice, name)
    assert expected_tools <= tools, f"{sorted(expected_tools - tools)} missing from {sorted(tools)}"
    if min_tools is not None:
        assert len(tools) >= min_tools, sorted(tools)
    else:
        assert tools == expected_tools
    assert f"ready — {len(tools)} tools" in outcome, outcome
    assert expect_in_result in await call_tool(alice, name, call[0], call[1])

    one_server_pid(needle)
    running = server_pids(needle)
    assert "disabled" in text_of(await ask(alice, f"disable {name}"))
    assert gone(running), f"{name} ({sorted(running)}) still exists after /mcp disable"
    assert await tool_names(alice, name) == set()

    enabled = text_of(await ask(alice, f"enable {name}", titled(f"Enabled {name}")))
    assert f"`{name}`: ready — {len(tools)} tools" in enabled, enabled
    assert await tool_names(alice, name) == tools
    assert expect_in_result in await call_tool(alice, name, call[0], call[1])

    one_server_pid(needle)
    running = server_pids(needle)
    prompt = await ask(alice, f"remove {name}")
    await alice.click(prompt, "remove_confirm")
    assert f"Removed `{name}`" in text_of(await alice.reply())
    assert gone(running), f"{name} ({sorted(running)}) still exists after removal"
    assert name not in text_of(await ask(alice, "list"))
    assert mirror(harness) == {"mcpServers": {}}


async def test_published_python_server_mcp_server_time_goes_through_the_lifecycle(harness: Harness) -> None:
    await published_server_lifecycle(
        harness,
        name="time",
        command=TIME_SERVER,
        needle="mcp-server-time",
        expected_tools={"time__get_current_time", "time__convert_time"},
        call=("get_current_time", {"timezone": "UTC"}),
        expect_in_result='"timezone": "UTC"',
    )


@pytest.mark.slow
@pytest.mark.parametrize("memory_mb", [None, 4096], ids=["default-limits", "4GiB-address-space"])
async def test_published_node_server_everything_goes_through_the_lifecycle(
    tmp_path: Path, memory_mb: int | None
) -> None:
    """Node (V8) reserves far more address space than it uses: the sandbox's limits must leave room for it."""
    extra = f"[limits]\nmemory_mb = {memory_mb}\n" if memory_mb else ""
    async with Harness.running(tmp_path / "data", policy=policy_toml(extra=extra)) as harness:
        await published_server_lifecycle(
            harness,
            name="everything",
            command=EVERYTHING_SERVER,
            needle="mcp-server-everything",
            expected_tools={"everything__echo"},
            min_tools=10,
            call=("echo", {"message": "hello from slack"}),
            expect_in_result="hello from slack",
        )


async def test_reload_restarts_every_enabled_server_and_reports_them_ready(harness: Harness) -> None:
    alice = harness.user()
    tiny, env_dump = server_path("tiny_server"), server_path("env_dump_server")
    await add_server(alice, "tiny", PYTHON, [tiny, "--tools", "echo"])
    await add_server(alice, "envdump", PYTHON, [env_dump])
    old_tiny, old_env = server_pids(tiny), server_pids(env_dump)

    reloaded = text_of(await ask(alice, "reload", titled("Reloaded")))
    assert "`tiny`: ready — 1 tool" in reloaded and "`envdump`: ready — 2 tools" in reloaded, reloaded
    await wait_until(lambda: gone(old_tiny) and gone(old_env), timeout=10, what="reload's old processes to exit")
    one_server_pid(tiny)
    one_server_pid(env_dump)
    assert await tool_names(alice, "tiny") == {"tiny__echo"}
    assert await call_tool(alice, "tiny", "echo", {"message": "after reload"}) == "after reload"

    # One server by name: only that one restarts.
    old_tiny, env_now = server_pids(tiny), server_pids(env_dump)
    reloaded = text_of(await ask(alice, "reload tiny", titled("Reloaded")))
    assert "`tiny`: ready — 1 tool" in reloaded and "envdump" not in reloaded, reloaded
    await wait_until(lambda: gone(old_tiny), timeout=10, what="tiny's old process to exit")
    assert server_pids(env_dump) == env_now, "reloading tiny restarted envdump too"


@pytest.mark.parametrize("text", ["help", "", "frobnicate the servers"])
async def test_help_and_unknown_subcommands_answer_with_the_help(harness: Harness, text: str) -> None:
    alice = harness.user()
    response = await alice.command(text)
    answer = response.json()
    assert answer.get("response_type") == "ephemeral"
    shown = text_of(answer)
    for command in ("/mcp add", "/mcp add-json", "/mcp list", "/mcp remove", "/mcp tools", "/mcp reload"):
        assert command in shown, f"{command} missing from the help: {shown}"
    if text.startswith("frobnicate"):
        assert "I don't know `/mcp frobnicate`" in shown, shown


async def test_cancel_on_the_confirmation_starts_nothing_and_stores_nothing(harness: Harness) -> None:
    alice = harness.user()
    tiny = server_path("tiny_server")
    confirmation = await review_through_modal(alice, "tiny", PYTHON, [tiny], env="API_TOKEN=never-stored")

    await alice.click(confirmation, "change_cancel")
    assert "Nothing was started or saved" in text_of(await alice.reply())
    assert server_pids(tiny) == set()
    assert await harness.app.servers.overview(OWNER) == []
    assert harness.app.tools.tools(OWNER) == []
    assert not (harness.data_dir / "users" / OWNER.id / "mcp.json").exists() or mirror(harness) == {"mcpServers": {}}
    assert "no MCP servers yet" in text_of(await ask(alice, "list"))

    # The cancelled confirmation cannot be used afterwards either.
    await alice.click(confirmation, "change_confirm")
    assert "no longer valid" in text_of(await alice.reply())
    assert server_pids(tiny) == set()
    assert await harness.app.servers.overview(OWNER) == []
