"""Tool listings and tool-call results."""

from __future__ import annotations

from typing import Any

from app.runtime.tool_registry import RegisteredTool
from app.services.tool_service import ToolOutcome
from app.slack.text import chunks, code, escape, escaped_chunks, truncate

MAX_DESCRIPTION = 200


def tools_blocks(tools: list[RegisteredTool], *, empty: str) -> list[dict[str, Any]]:
    if not tools:
        return [{"type": "section", "text": {"type": "mrkdwn", "text": empty}}]
    lines = []
    for tool in tools:
        description = truncate(" ".join((tool.tool.description or "").split()), MAX_DESCRIPTION)
        lines.append(f"• {code(tool.exposed_name)}" + (f" — {escape(description)}" if description else ""))
    text = "\n".join(lines)
    return [{"type": "section", "text": {"type": "mrkdwn", "text": piece}} for piece in chunks(text, 2900)][:45]


def outcome_blocks(exposed_name: str, outcome: ToolOutcome) -> list[dict[str, Any]]:
    head = f"{':x: ' if outcome.is_error else ''}*{escape(exposed_name)}* ({outcome.duration_ms} ms)"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": head}}]
    blocks += [
        {"type": "section", "text": {"type": "mrkdwn", "text": "```" + p + "```"}}
        for p in escaped_chunks(outcome.text, 2800)
    ][:40]
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
