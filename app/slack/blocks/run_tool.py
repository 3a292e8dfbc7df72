"""The Run-tool surfaces: the tool picker, the form's heading, and the result as it lands in the DM."""

from __future__ import annotations

import json
from itertools import groupby
from typing import Any

from app.domain.registered_tool import RegisteredTool
from app.services.tool_service import ToolOutcome
from app.slack import ids
from app.slack.blocks.plain import context, section, text_blocks
from app.slack.blocks.tool_form import OPTION_TEXT_MAX, OPTIONS_MAX, TITLE_MAX, VALUE, schema_digest, tool_form
from app.slack.text import code, escape, escaped_chunks, truncate

DESCRIPTION_SHOWN = 1500
RESULT_SHOWN = 2800  # more than this goes to a file next to the message
GROUPS_MAX = 100


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit)}


def _option(tool: RegisteredTool) -> dict[str, Any]:
    # exposed names are at most 64 characters ([A-Za-z0-9_-]), within an option's 75/150
    return {"text": _plain(tool.exposed_name, OPTION_TEXT_MAX), "value": tool.exposed_name}


def picker_modal(tools: list[RegisteredTool]) -> dict[str, Any]:
    """A select of the owner's runnable tools (grouped by server when there are several); Next opens the form."""
    servers = [(name, list(group)) for name, group in groupby(tools, key=lambda t: t.server_name)]
    select: dict[str, Any] = {"type": "static_select", "action_id": VALUE, "placeholder": _plain("Pick a tool", 150)}
    shown = 0
    if len(servers) == 1:
        select["options"] = [_option(t) for t in servers[0][1][:OPTIONS_MAX]]
        shown = len(select["options"])
    else:
        select["option_groups"] = [
            {"label": _plain(name, OPTION_TEXT_MAX), "options": [_option(t) for t in group[:OPTIONS_MAX]]}
            for name, group in servers[:GROUPS_MAX]
        ]
        shown = sum(len(g["options"]) for g in select["option_groups"])
    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": ids.RUN_PICKER_TOOL,
            "label": _plain("Tool", 2000),
            "element": select,
        }
    ]
    if shown < len(tools):
        blocks.append(context(f"{len(tools) - shown} more not listed: `/mcp run <server> <tool>` runs any of them."))
    return {
        "type": "modal",
        "callback_id": ids.RUN_PICKER_MODAL,
        "title": _plain("Run a tool", TITLE_MAX),
        "submit": _plain("Next", TITLE_MAX),
        "close": _plain("Cancel", TITLE_MAX),
        "blocks": blocks,
    }


def run_form(tool: RegisteredTool, *, note: str | None = None) -> dict[str, Any]:
    """The tool's form; the metadata names the tool and the schema version the fields were built from."""
    schema = tool.tool.input_schema
    heading = f"*{escape(tool.exposed_name)}*"
    if tool.description:
        heading += "\n" + escape(truncate(" ".join(tool.description.split()), DESCRIPTION_SHOWN))
    intro = [section(heading)]
    if note:
        intro.append(context(f":warning: {escape(note)}"))
    metadata = json.dumps({"server": tool.server_name, "tool": tool.tool.name, "digest": schema_digest(schema)})
    return tool_form(
        schema,
        title=f"Run {tool.tool.name}",
        callback_id=ids.RUN_FORM_MODAL,
        private_metadata=metadata,
        intro=intro,
    )


def run_button(exposed_name: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": ids.RUN_TOOL,
        "value": exposed_name,
        "text": _plain("Run", 75),
        "accessibility_label": truncate(f"Run {exposed_name}", 75),
    }


def result_blocks(exposed_name: str, outcome: ToolOutcome, *, attached: bool) -> list[dict[str, Any]]:
    """The result in the DM: shown whole when it fits, else its start and a note that the file has it all."""
    icon = ":x: " if outcome.is_error else ":white_check_mark: "
    blocks = [section(f"{icon}*{escape(exposed_name)}* ({outcome.duration_ms} ms)")]
    shown = outcome.text[:RESULT_SHOWN] if attached else outcome.text
    pieces = escaped_chunks(shown.replace("`", "ˋ"), 2800)[:4]
    blocks += [section("```" + piece + "```") for piece in pieces if piece]
    if attached:
        blocks.append(context(f"The whole result ({len(outcome.text)} characters) is in the file below."))
    if outcome.truncated_chars:
        blocks.append(context(f"Result cut: {outcome.truncated_chars} more characters were not kept."))
    if outcome.notice:
        blocks.append(context(f":warning: {escape(outcome.notice)}"))
    return blocks


def failure_blocks(exposed_name: str, message: str) -> list[dict[str, Any]]:
    return [section(f":x: {code(exposed_name)} did not run: {escape(message)}")]


def loading_modal() -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Run a tool"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": text_blocks(":hourglass_flowing_sand: Looking up the tool…"),
    }


def notice_modal(message: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Cannot run"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": text_blocks(f":x: {escape(message)}"),
    }
