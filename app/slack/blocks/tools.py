"""Tool listings and tool-call results."""

from __future__ import annotations

from typing import Any

from app.domain.registered_tool import RegisteredTool
from app.services.tool_service import ToolOutcome
from app.slack import ids
from app.slack.blocks.run_tool import run_button
from app.slack.text import code, escape, escaped_chunks, truncate

MAX_DESCRIPTION = 200
RUN_BUTTONS_MAX = 40  # one section per tool (with its Run button) up to this many, within a message's 50 blocks
_STATE_ICON = {"allowed": ":white_check_mark:", "denied": ":no_entry:", "held": ":pause_button:"}


def tool_line(tool: RegisteredTool) -> str:
    description = truncate(" ".join(tool.description.split()), MAX_DESCRIPTION)
    line = f"{_STATE_ICON.get(tool.state, '')} {code(tool.exposed_name)} _{tool.state}_"
    if tool.reason:  # why it is allowed, denied or held
        line += f" ({escape(tool.reason)})"
    if description:
        line += f" — {escape(description)}"
    return line


def tools_blocks(tools: list[RegisteredTool], *, empty: str) -> list[dict[str, Any]]:
    if not tools:
        return [{"type": "section", "text": {"type": "mrkdwn", "text": empty}}]
    if len(tools) <= RUN_BUTTONS_MAX:
        blocks = [_tool_row(t) for t in tools]
    else:
        blocks = _packed_lines(tools)
        blocks.append(_context("`/mcp run <server>__<tool>` opens a form to run one of them."))
    return _with_policy_note(blocks, tools)


def _packed_lines(tools: list[RegisteredTool]) -> list[dict[str, Any]]:
    """Many tools: their lines packed into as few sections as fit, without buttons."""
    blocks: list[dict[str, Any]] = []
    current: list[str] = []
    size = 0
    for line in (tool_line(t) for t in tools):
        if size + len(line) + 1 > 2900 and current:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(current)}})
            current, size = [], 0
        current.append(line[:2900])
        size += len(line) + 1
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(current)}})
    return blocks[:44]


def _tool_row(tool: RegisteredTool) -> dict[str, Any]:
    """One tool, with a Run button when it can be called."""
    row: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": tool_line(tool)[:2900]}}
    if tool.allowed:
        row["accessory"] = run_button(tool.exposed_name)
    return row


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _with_policy_note(blocks: list[dict[str, Any]], tools: list[RegisteredTool]) -> list[dict[str, Any]]:
    if any(not t.allowed for t in tools):
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": (
                            "Denied and held tools cannot be called. "
                            "`/mcp allow SERVER__TOOL` or `/mcp deny SERVER__TOOL` (the names above) changes that."
                        ),
                    }
                ],
            }
        )
    return blocks


def outcome_blocks(exposed_name: str, outcome: ToolOutcome) -> list[dict[str, Any]]:
    head = f"{':x: ' if outcome.is_error else ''}*{escape(exposed_name)}* ({outcome.duration_ms} ms)"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": head}}]
    blocks += [
        {"type": "section", "text": {"type": "mrkdwn", "text": "```" + p + "```"}}
        # A backtick in the result could close the code block and let the rest render as mrkdwn.
        for p in escaped_chunks(outcome.text.replace("`", "ˋ"), 2800)
    ][:40]
    if outcome.notice:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f":warning: {escape(outcome.notice)}"}]}
        )
    if outcome.truncated_chars:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": (f"Result cut: {outcome.truncated_chars} more characters were not shown."),
                    }
                ],
            }
        )
    return blocks


def allow_prompt_text(exposed_name: str) -> str:
    """The notification text of the risky-tool prompt: short, so the reason is read once, in the blocks."""
    return f"Allow {escape(exposed_name)} anyway?"


def allow_prompt_blocks(warning: str, value: str) -> list[dict[str, Any]]:
    """`/mcp allow` of a tool on the risky-tool list: the reason, said once, and a second yes.

    `warning` names the tool and why it is on the list (which already says what such a tool can do)."""
    return [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": truncate(
                    f":warning: {escape(warning)} Allow it anyway? Then it can be called like any allowed tool.", 3000
                ),
            },
        },
        {
            "type": "actions",
            "block_id": "allow_decision",
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.CONFIRM_ALLOW_TOOL,
                    "style": "danger",
                    "value": value,
                    "text": {"type": "plain_text", "text": "Allow anyway"},
                },
            ],
        },
    ]
