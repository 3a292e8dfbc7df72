"""A new user pastes a server config they already have (Claude Desktop, VS Code, a bare map, or `name {…}`) into
`/mcp add-json`, reviews the same confirmation the Add form shows, confirms, and gets ready servers with tools.

The answer to add-json arrives through the command's response_url (the ack itself stays empty).
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from tests.servers import PYTHON, server_path
from tests.support import slack_payloads as payloads
from tests.support.harness import Harness, SlackUser, text_of

pytestmark = pytest.mark.anyio

OWNER = Owner(team_id=payloads.TEAM_ID, user_id=payloads.USER_ID)
TINY = server_path("tiny_server")
TIME_SERVER = str(Path(sys.executable).parent / "mcp-server-time")
SECRET = "json-pasted-s3cret-d41d"
SETTLE = 30.0


def tiny(tools: str = "echo,add", **extra: Any) -> dict[str, Any]:
    return {"command": PYTHON, "args": [TINY, "--tools", tools], "env": {"A_TOKEN": SECRET}, **extra}


SHAPES: dict[str, Callable[[], str]] = {
    "claude-desktop": lambda: json.dumps({"mcpServers": {"a": tiny()}}),
    "vscode": lambda: json.dumps({"servers": {"a": tiny(type="stdio")}}),
    "bare-map": lambda: json.dumps({"a": tiny()}),
    "name-then-config": lambda: "a " + json.dumps(tiny()),
}


def reviewing(message: dict[str, Any]) -> bool:
    return "Review before running" in text_of(message)


def done(message: dict[str, Any]) -> bool:
    return "*Done*" in text_of(message)


async def add_json(user: SlackUser, text: str) -> dict[str, Any]:
    response = await user.command(f"add-json {text}")
    assert response.text == "", f"add-json answered in the ack instead of the response_url: {response.text}"
    return await user.reply(reviewing)


async def confirm(user: SlackUser, confirmation: dict[str, Any]) -> str:
    await user.click(confirmation, "change_confirm")
    return text_of(await user.reply(done, timeout=SETTLE))


async def ask(user: SlackUser, text: str) -> str:
    await user.command(text)
    return text_of(await user.reply())


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (element["action_id"], element["text"]["text"])
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def without_change_ids(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The blocks a person reads; button values (one-time change ids) differ between two proposals."""
    blocks: list[dict[str, Any]] = copy.deepcopy(message["blocks"])
    for block in blocks:
        for element in block.get("elements") or []:
            element.pop("value", None)
    return blocks


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_each_accepted_json_shape_shows_the_confirmation_and_gives_a_ready_server_after_confirm(
    harness: Harness, shape: str
) -> None:
    alice = harness.user()
    confirmation = await add_json(alice, SHAPES[shape]())

    assert confirmation["text"] == "Review before running: a", confirmation["text"]
    shown = text_of(confirmation)
    assert "Add server `a`" in shown, shown
    assert f"{PYTHON} {TINY} --tools echo,add" in shown
    assert "`A_TOKEN`=••••••" in shown
    assert SECRET not in json.dumps(confirmation)
    assert buttons(confirmation) == [("change_confirm", "Confirm and start"), ("change_cancel", "Cancel")]
    assert await harness.app.servers.overview(OWNER) == [], "add-json stored a server before confirmation"

    outcome = await confirm(alice, confirmation)
    assert "`a`: ready — 2 tools" in outcome, outcome
    tools = await ask(alice, "tools a")
    assert "`a__echo`" in tools and "`a__add`" in tools, tools
    await alice.command('call a add {"a": 40, "b": 2}')
    assert "42" in text_of(await alice.reply())
    stored = (await harness.app.servers.get(OWNER, "a")).record.config
    assert isinstance(stored, LocalServerConfig)
    assert stored.env == {"A_TOKEN": SECRET}
    assert stored.args == (TINY, "--tools", "echo,add")


async def test_add_json_shows_the_same_confirmation_as_the_add_form_for_the_same_server(harness: Harness) -> None:
    alice = harness.user()
    from_json = await add_json(alice, "a " + json.dumps(tiny()))
    await alice.click(from_json, "change_cancel")
    assert "Nothing was started or saved" in text_of(await alice.reply())

    view = await alice.open_modal("add")
    await alice.submit(
        view,
        {"name": "a", "command": PYTHON, "args": f"{TINY}\n--tools\necho,add", "env": f"A_TOKEN={SECRET}", "cwd": None},
    )
    from_form = await alice.reply(reviewing)
    assert from_form["text"] == from_json["text"]
    assert without_change_ids(from_form) == without_change_ids(from_json)


async def test_a_multi_server_mcpservers_map_is_confirmed_all_at_once(harness: Harness) -> None:
    alice = harness.user()
    document = {
        "mcpServers": {
            "echoer": tiny("echo"),
            "adder": {"command": PYTHON, "args": [TINY, "--tools", "add,shout"]},
            "envdump": {"command": PYTHON, "args": [server_path("env_dump_server")], "env": {"MY_SETTING": "x"}},
            "time": {"command": TIME_SERVER, "args": []},
        }
    }
    confirmation = await add_json(alice, json.dumps(document))
    shown = text_of(confirmation)
    for name in ("echoer", "adder", "envdump", "time"):
        assert f"Add server `{name}`" in shown, shown
    assert f"{PYTHON} {TINY} --tools add,shout" in shown and TIME_SERVER in shown
    decision = [b for b in confirmation["blocks"] if b["type"] == "actions"]
    assert len(decision) == 1, "one Confirm for the whole map"
    assert len(decision[0]["elements"][0]["value"].split(",")) == 4

    outcome = await confirm(alice, confirmation)
    assert "`echoer`: ready — 1 tool" in outcome, outcome
    assert "`adder`: ready — 2 tools" in outcome, outcome
    assert "`envdump`: ready — 2 tools" in outcome, outcome
    assert "`time`: ready — 2 tools" in outcome, outcome

    tools = {t.exposed_name for t in harness.app.tools.tools(OWNER)}
    assert {"echoer__echo", "adder__add", "adder__shout", "envdump__whoami", "time__get_current_time"} <= tools
    listed = await ask(alice, "list")
    for name in ("echoer", "adder", "envdump", "time"):
        assert f"*{name}*" in listed, listed
    mirrored = json.loads((harness.data_dir / "users" / OWNER.id / "mcp.json").read_text())
    assert set(mirrored["mcpServers"]) == {"echoer", "adder", "envdump", "time"}


async def test_cancel_on_an_add_json_confirmation_starts_and_stores_none_of_the_servers(harness: Harness) -> None:
    alice = harness.user()
    confirmation = await add_json(alice, json.dumps({"mcpServers": {"a": tiny(), "b": tiny("echo")}}))
    await alice.click(confirmation, "change_cancel")
    assert "Nothing was started or saved" in text_of(await alice.reply())
    assert await harness.app.servers.overview(OWNER) == []
    assert harness.app.tools.tools(OWNER) == []


async def test_add_json_refuses_openssl_conf_by_name_and_flags_a_registry_override_on_the_confirmation(
    harness: Harness,
) -> None:
    alice = harness.user()
    refused = await alice.command(
        "add-json a " + json.dumps({"command": PYTHON, "args": [TINY], "env": {"OPENSSL_CONF": "/tmp/evil.cnf"}})
    )
    answer = str(refused.json()["text"])
    assert "`OPENSSL_CONF` cannot be set: it changes which code runs" in answer, answer
    row = await harness.app.db.fetch_one("SELECT COUNT(*) AS n FROM pending_changes")
    assert row is not None and row["n"] == 0, "a refused config was kept as a pending change"

    mirror = "https://registry.mirror-canary.example/"
    entry = {"command": PYTHON, "args": [TINY, "--tools", "echo"], "env": {"NPM_CONFIG_REGISTRY": mirror}}
    confirmation = await add_json(alice, "a " + json.dumps(entry))
    shown = text_of(confirmation)
    assert (
        ":warning: `NPM_CONFIG_REGISTRY` points the package manager at another registry: "
        "what it downloads and runs comes from there"
    ) in shown, shown
    assert "`NPM_CONFIG_REGISTRY`=••••••" in shown
    assert mirror not in json.dumps(confirmation), "the flag or the card showed the variable's value"

    outcome = await confirm(alice, confirmation)
    assert "`a`: ready — 1 tool" in outcome, outcome
