"""Block Kit for the assistant: a tool step, the approval request, the buttons under an answer, and the modal that
narrows which servers a thread may use. Pure functions returning dicts."""

from __future__ import annotations

import json
from typing import Any

from app.domain.assistant import ApprovalAsk, ApprovalState, Step
from app.slack import ids
from app.slack.blocks.plain import button
from app.slack.text import code, code_block, escape, truncate

SUGGESTED_PROMPTS = [
    {"title": "What can you do?", "message": "Which tools can you use for me?"},
    {"title": "Try a tool", "message": "Pick one of my tools and show me what it does."},
]
_STEP_ICON = {
    "running": ":hourglass_flowing_sand:",
    "done": ":white_check_mark:",
    "failed": ":x:",
    "denied": ":no_entry:",
}
_ANSWERED = {
    "approved": ":white_check_mark: Allowed",
    "denied": ":no_entry: Denied",
    "expired": ":alarm_clock: Expired: nobody answered in time, so it did not run",
    "superseded": ":fast_forward: Skipped: a new message came first, so it did not run",
    "pending": ":hourglass_flowing_sand: Waiting",
}


def step_details(step: Step) -> str:
    """`done in 1.2 s`, `failed: why`, `denied` — plus a note when the result was cut for the model."""
    if step.state == "running":
        text = f"running: {step.note}" if step.note else "running…"  # the server's progress, when it sends some
    elif step.state == "done":
        text = f"done in {step.duration_ms / 1000:.1f} s"
    elif step.state == "denied":
        text = "denied" + (f": {step.note}" if step.note else "")
    else:
        text = "failed" + (f": {step.note}" if step.note else "")
    if step.truncated_chars:
        text += f" (result cut: {step.truncated_chars:,} characters not shown to the model)"
    return truncate(text, 250)


def markdown_chunk(text: str) -> dict[str, Any]:
    """Answer text for chat.startStream/appendStream/stopStream (streams carry chunks only, see turn_stream)."""
    return {"type": "markdown_text", "text": text}


def step_chunk(step: Step) -> dict[str, Any]:
    """A `task_update` chunk for chat.appendStream."""
    status = {"running": "in_progress", "done": "complete"}.get(step.state, "error")
    return {
        "type": "task_update",
        "id": step.call_id[:64],
        "title": step.tool_name[:200],
        "status": status,
        "details": step_details(step),
    }


def step_line(step: Step) -> str:
    """The same step as a line of text, for the answer posted without streaming."""
    return f"{_STEP_ICON[step.state]} {code(step.tool_name)} {escape(step_details(step))}"


def approval_blocks(ask: ApprovalAsk, owner_user_id: str) -> list[dict[str, Any]]:
    arguments = _pretty(ask.arguments_preview)
    return [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": truncate(
                    f":raised_hand: <@{owner_user_id}>, may I call {code(ask.tool_name)}? I ask because "
                    f"{escape(ask.reason)}.",
                    3000,
                ),
            },
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(code_block(arguments), 2900, "…```")}},
        {
            "type": "actions",
            "block_id": "approval",
            "elements": [
                button(ids.APPROVE_CALL_ONCE, "Allow once", ask.approval_id, style="primary"),
                button(ids.APPROVE_CALL_ALWAYS, "Always allow", ask.approval_id),
                button(ids.DENY_CALL, "Deny", ask.approval_id, style="danger"),
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Only the person who asked can answer."}]},
    ]


def approval_text(ask: ApprovalAsk) -> str:
    return f"May I call {ask.tool_name}? It needs your approval."


def answered_blocks(tool_name: str, state: ApprovalState, by_user_id: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"{_ANSWERED[state]}: {code(tool_name)} (asked by <@{by_user_id}>)"}
            ],
        }
    ]


def after_answer_blocks(*, thread_value: str, tools_button: bool, retry: bool) -> list[dict[str, Any]]:
    """Buttons under an answer: Retry after a failure, "Tools in this thread" under the first reply."""
    elements = []
    if retry:
        elements.append(button(ids.RETRY_TURN, "Retry", thread_value, style="primary"))
    if tools_button:
        elements.append(button(ids.THREAD_TOOLS, "Tools in this thread", thread_value))
    return [{"type": "actions", "block_id": "after_answer", "elements": elements}] if elements else []


def thread_tools_modal(
    servers: list[str], selected: tuple[str, ...] | None, metadata: dict[str, str]
) -> dict[str, Any]:
    if not servers:
        body: list[dict[str, Any]] = [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "You have no servers with tools yet. Add one with `/mcp add`."},
            }
        ]
        return _modal(body, metadata, submit=False)
    options = [_option(name) for name in servers[:100]]
    chosen = [o for o in options if selected is None or o["value"] in selected]
    element: dict[str, Any] = {"type": "multi_static_select", "action_id": ids.VALUE, "options": options}
    if chosen:
        element["initial_options"] = chosen
    body = [
        {
            "type": "input",
            "block_id": ids.THREAD_SERVERS,
            "optional": True,
            "label": {"type": "plain_text", "text": "Servers this thread may use"},
            "element": element,
            "hint": {"type": "plain_text", "text": "Leave empty to use none; your other threads are not affected."},
        }
    ]
    return _modal(body, metadata, submit=True)


def _modal(blocks: list[dict[str, Any]], metadata: dict[str, str], *, submit: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": ids.THREAD_TOOLS_MODAL,
        "title": {"type": "plain_text", "text": "Tools in this thread"},
        "close": {"type": "plain_text", "text": "Cancel" if submit else "Close"},
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }
    if submit:
        view["submit"] = {"type": "plain_text", "text": "Save"}
    return view


def _option(name: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": truncate(name, 75)}, "value": name}


def _pretty(preview: str) -> str:
    try:
        return json.dumps(json.loads(preview), indent=2, ensure_ascii=False)
    except ValueError:
        return preview  # already cut short for the audit preview


def answer_sections(text: str) -> list[dict[str, Any]]:
    """Text as sections of ≤3000 characters (Slack's limit), at most 45 of them to leave room for buttons."""
    pieces = [text[i : i + 2900] for i in range(0, len(text), 2900)][:45]
    return [{"type": "section", "text": {"type": "mrkdwn", "text": p}} for p in pieces if p.strip()]
