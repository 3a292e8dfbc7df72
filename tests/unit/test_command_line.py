"""Naming a tool on the `/mcp` command line: `server__tool` as listings show it, or `server tool`."""

from __future__ import annotations

import pytest

from app.slack.command_line import ToolReference, parse_tool_reference


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("everything__echo", ToolReference("everything", "echo")),
        ('everything__echo {"message": "hi"}', ToolReference("everything", "echo", '{"message": "hi"}')),
        ('everything echo {"message": "hi"}', ToolReference("everything", "echo", '{"message": "hi"}')),
        ("everything echo", ToolReference("everything", "echo")),
        ('my-server__get__thing\n{"a": 1}', ToolReference("my-server", "get__thing", '{"a": 1}')),
        ("srv tool__with__separators", ToolReference("srv", "tool__with__separators")),
    ],
)
def test_a_tool_is_found_in_either_form_with_what_follows_it(text: str, expected: ToolReference) -> None:
    assert parse_tool_reference(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "everything", "everything__", "__echo"])
def test_a_line_that_names_no_tool_gives_none(text: str) -> None:
    assert parse_tool_reference(text) is None


def test_the_exposed_name_is_the_one_listings_show() -> None:
    assert ToolReference("everything", "echo", "{}").exposed == "everything__echo"
