"""App Home is the owner's dashboard: Add and Connect, each server with its status, tool count and actions, the
tools that need the owner, their latest audit entries, and help -- published when they open it, refreshed when they
act on it, and always valid Block Kit."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.domain.owner import Owner
from tests.servers import PYTHON, server_path
from tests.support import slack_payloads as payloads
from tests.support.blockkit import view_problems
from tests.support.flows import add_ready_server, call
from tests.support.harness import Harness, SlackUser, text_of
from tests.support.waiting import wait_until

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id=payloads.TEAM_ID, user_id=payloads.USER_ID)
RISKY = {"command": PYTHON, "args": [server_path("risky_server")]}


async def open_home(harness: Harness, user: SlackUser) -> dict[str, Any]:
    """The person clicks the app's Home tab: the view the app published for them."""
    mark = harness.slack.mark()
    body = payloads.event_callback(payloads.app_home_opened(user.user_id), team_id=user.team_id)
    response = await harness.post(body, content_type="application/json")
    assert response.status_code == 200, response.text
    published = await harness.slack.wait_for("views.publish", after=mark)
    assert published.ok, published.response
    return harness.slack.homes[user.user_id]


def element(view: dict[str, Any], action_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(block, element) of the interactive element `action_id` (an accessory or inside an actions block)."""
    for block in view["blocks"]:
        for candidate in [*(block.get("elements") or []), *([block["accessory"]] if block.get("accessory") else [])]:
            if candidate.get("action_id") == action_id:
                return block, candidate
    raise AssertionError(f"no {action_id!r} in the Home tab: {text_of(view)}")


async def click_in_home(
    harness: Harness, user: SlackUser, view: dict[str, Any], action_id: str, *, selected: str | None = None
) -> None:
    block, found = element(view, action_id)
    action: dict[str, Any] = {"action_id": action_id, "block_id": block["block_id"], "type": found["type"]}
    if selected is not None:
        action["selected_option"] = next(o for o in found["options"] if o["value"] == selected)
    body = payloads.block_actions(
        action,
        user_id=user.user_id,
        team_id=user.team_id,
        trigger_id=harness.slack.issue_trigger_id(user.user_id),
        view=view,
    )
    response = await harness.post(body)
    assert response.status_code == 200, response.text


def section_after(view: dict[str, Any], heading: str) -> str:
    """The text of the blocks between the section `heading` and the next divider."""
    texts: list[str] = []
    inside = False
    for block in view["blocks"]:
        shown = text_of({"blocks": [block]})
        if inside and block["type"] == "divider":
            break
        if inside:
            texts.append(shown)
        inside = inside or shown.strip() == heading
    assert inside, f"no {heading!r} section in the Home tab: {text_of(view)}"
    return "\n".join(texts)


async def test_app_home_shows_buttons_servers_with_status_tools_and_actions_tools_that_need_you_and_recent_activity(
    harness: Harness,
) -> None:
    alice = harness.user()
    await add_ready_server(alice, "risky", RISKY)
    assert "found: x" in await call(alice, "risky", "lookup", {"query": "x"})
    ident = (await harness.app.servers.get(ALICE, "risky")).record.id

    home = await open_home(harness, alice)

    assert view_problems(home) == []
    _, buttons = element(home, "open_add_modal")
    actions = next(b for b in home["blocks"] if b.get("block_id") == "home_actions")
    assert [e["text"]["text"] for e in actions["elements"]] == [
        "Add local server",
        "Connect remote server",
        "Run a tool",
        "Help",
    ]
    assert buttons["style"] == "primary"

    row = next(b for b in home["blocks"] if b.get("block_id") == f"server:{ident}")
    assert "*risky*" in row["text"]["text"] and re.search(r"ready — \d+ tools?", row["text"]["text"]), row
    assert [o["text"]["text"] for o in row["accessory"]["options"]] == ["Edit", "Disable", "Remove"]

    attention = section_after(home, "*Tools that need you*")
    assert "`risky__run_shell` _denied_ (denylist: its name looks like it runs commands" in attention, attention
    assert "risky__lookup" not in attention  # allowed: nothing to do
    assert "`/mcp allow SERVER__TOOL`" in attention

    activity = section_after(home, "*Recent activity*")
    entries = [line for line in activity.splitlines() if line.startswith("`20")]
    assert 1 <= len(entries) <= 5, activity
    assert "*tool_call* `risky` tool=lookup outcome=ok" in entries[0], entries  # newest first
    assert any("*approved_add* `risky`" in line for line in entries), entries


async def test_app_home_shows_only_the_latest_five_audit_entries_of_its_owner(harness: Harness) -> None:
    alice, bob = harness.user(), harness.user("U0BOB")
    await add_ready_server(alice, "risky", RISKY)
    for query in ("one", "two", "three", "four", "five", "six"):
        assert f"found: {query}" in await call(alice, "risky", "lookup", {"query": query})
    await add_ready_server(bob, "bobs", RISKY)

    entries = [
        line
        for line in section_after(await open_home(harness, alice), "*Recent activity*").splitlines()
        if line.startswith("`20")
    ]

    assert len(entries) == 5 and all("*tool_call* `risky`" in line for line in entries), entries
    assert not any("bobs" in line for line in entries)


async def test_a_new_owner_sees_empty_sections_that_say_what_to_do(harness: Harness) -> None:
    home = await open_home(harness, harness.user())

    assert view_problems(home) == []
    shown = text_of(home)
    assert "You have no MCP servers yet" in shown
    assert "Nothing needs you" in shown and "Nothing yet" in shown


async def test_the_home_buttons_open_the_add_form_the_connect_form_and_the_help(harness: Harness) -> None:
    alice = harness.user()
    home = await open_home(harness, alice)

    opened: dict[str, dict[str, Any]] = {}
    for action_id in ("open_add_modal", "open_connect_modal", "open_help"):
        mark = harness.slack.mark()
        await click_in_home(harness, alice, home, action_id)
        call_ = await harness.slack.wait_for("views.open", after=mark)
        assert call_.ok and call_.response is not None, call_.response
        opened[action_id] = call_.response["view"]
        harness.slack.close_views(alice.user_id)

    assert opened["open_add_modal"]["callback_id"] == "server_add"
    assert opened["open_connect_modal"]["callback_id"] == "server_connect"
    assert opened["open_help"]["title"]["text"] == "Plugboard help"
    assert "/mcp call <server>__<tool> [json]" in text_of(opened["open_help"])


async def test_a_server_menu_action_in_app_home_applies_and_refreshes_the_home_tab(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "risky", RISKY)
    ident = (await harness.app.servers.get(ALICE, "risky")).record.id
    home = await open_home(harness, alice)

    mark = harness.slack.mark()
    await click_in_home(harness, alice, home, "server_menu", selected=f"disable:{ident}")
    await harness.slack.wait_for("views.publish", after=mark)

    def refreshed_as_disabled() -> bool:
        row = next(b for b in harness.slack.homes[alice.user_id]["blocks"] if b.get("block_id") == f"server:{ident}")
        return "disabled" in row["text"]["text"]

    await wait_until(refreshed_as_disabled, timeout=10, what="the Home tab to show the server disabled")
    assert view_problems(harness.slack.homes[alice.user_id]) == []
    assert (await harness.app.servers.get(ALICE, "risky")).status.state == "stopped"
