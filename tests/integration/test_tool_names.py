"""A tool is named the way every listing shows it, `server__tool`, wherever a command takes a tool; the older
`server tool` (two words) keeps working."""

from __future__ import annotations

import pytest

from tests.servers import PYTHON, server_path
from tests.support.flows import add_ready_server, call, result_text
from tests.support.harness import Harness, SlackUser, text_of

pytestmark = pytest.mark.anyio

TINY = {"command": PYTHON, "args": [server_path("tiny_server"), "--tools", "echo,add"]}


async def answer(user: SlackUser, text: str) -> str:
    """What the person reads after typing `/mcp <text>` (Slack's `&lt;` shows as `<`)."""
    response = await user.command(text)
    shown = str(response.json()["text"]) if response.text else text_of(await user.reply())
    return shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def test_a_tool_is_called_by_the_name_listings_show_as_well_as_by_server_and_tool(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "tiny", TINY)
    listing = await answer(alice, "tools tiny")
    assert "`tiny__echo`" in listing and "`tiny__add`" in listing, listing

    one_word = await answer(alice, 'call tiny__echo {"message": "named as listed"}')
    two_words = await answer(alice, 'call tiny echo {"message": "named in two words"}')
    assert result_text(one_word) == "named as listed", one_word
    assert result_text(two_words) == "named in two words", two_words
    assert "*tiny__echo*" in one_word and "*tiny__echo*" in two_words
    assert result_text(await answer(alice, 'call tiny__add\n{"a": 40, "b": 2}')) == "42"


async def test_allow_and_deny_take_the_name_listings_show_as_well_as_server_and_tool(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "tiny", TINY)

    assert "`tiny__echo` is denied" in await answer(alice, "deny tiny__echo")
    refused = await call(alice, "tiny", "echo", {"message": "x"})
    assert "`/mcp allow tiny__echo` lets you use it" in refused, refused  # the advice names it as listed
    assert "`tiny__echo` is allowed" in await answer(alice, "allow tiny echo")
    assert result_text(await answer(alice, 'call tiny__echo {"message": "x"}')) == "x"

    assert "`tiny__add` is denied" in await answer(alice, "deny tiny add")
    assert "`tiny__add` is allowed" in await answer(alice, "allow tiny__add")
    assert result_text(await answer(alice, 'call tiny add {"a": 1, "b": 2}')) == "3"


async def test_a_tool_command_without_a_tool_explains_both_ways_of_naming_it(harness: Harness) -> None:
    alice = harness.user()
    for text in ("call", "call tiny", "allow tiny", "deny", "allow tiny__echo extra"):
        shown = await answer(alice, text)
        assert "<server>__<tool>" in shown and "as `/mcp tools` lists it" in shown, (text, shown)
        assert "<server> <tool>" in shown, (text, shown)


async def test_help_shows_tool_commands_with_the_tool_named_as_listings_show_it(harness: Harness) -> None:
    alice = harness.user()
    shown = await answer(alice, "help")
    for form in ("/mcp call <server>__<tool> [json]", "/mcp allow <server>__<tool>", "/mcp deny <server>__<tool>"):
        assert form in shown, shown
