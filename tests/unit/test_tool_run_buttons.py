"""`/mcp tools` puts a Run button beside each tool that can be called, and stays valid Block Kit with many tools."""

from __future__ import annotations

import mcp_types as types

from app.domain.registered_tool import RegisteredTool
from app.domain.tool_policy import ToolState
from app.slack import ids
from app.slack.blocks.tools import tools_blocks
from tests.support.blockkit import message_problems


def tool(n: int, state: ToolState = "allowed") -> RegisteredTool:
    definition = types.Tool(name=f"tool_{n}", input_schema={"type": "object"})
    return RegisteredTool(f"srv__tool_{n}", "id", "srv", definition, "does things", state)


def test_each_callable_tool_has_a_run_button_naming_it_and_denied_ones_have_none() -> None:
    blocks = tools_blocks([tool(1), tool(2, "denied"), tool(3, "held")], empty="none")
    buttons = [b["accessory"] for b in blocks if "accessory" in b]
    assert [(b["action_id"], b["value"]) for b in buttons] == [(ids.RUN_TOOL, "srv__tool_1")]
    assert message_problems(text="tools", blocks=blocks) == []


def test_a_long_listing_drops_the_buttons_and_points_to_mcp_run() -> None:
    blocks = tools_blocks([tool(n) for n in range(300)], empty="none")
    assert len(blocks) <= 50 and not any("accessory" in b for b in blocks)
    assert "/mcp run" in str(blocks[-1])
    assert message_problems(text="tools", blocks=blocks) == []
