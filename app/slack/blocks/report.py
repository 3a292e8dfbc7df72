"""The report that closes a change (confirm, enable, reload, a confirmed file): each server's outcome, then either
`Done` or, when anything failed, what to do next with a button where one click helps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain.remote_config import ApiKeyAuth, RemoteServerConfig
from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from app.slack import ids
from app.slack.text import chunks, code, escape, truncate

DONE = "Done"
FINISHED_WITH_PROBLEMS = "Not everything worked"
NEXT_STEPS = "What to do next"
MAX_LINE_SECTIONS = 30
MAX_STEPS = 10
_SECTION_LIMIT = 2900


@dataclass(frozen=True)
class NextStep:
    """One thing the owner can do about one failure; `action` is a button (action_id, value, label) or None."""

    text: str
    action: tuple[str, str, str] | None = None


def next_step(record: ServerRecord, status: ServerStatus) -> NextStep | None:
    """What the owner can do about a server that did not end up ready (None when it is ready).

    A failure message from the runtime usually says already which `/mcp` commands help; then the step is the
    one-click way to do it, without repeating the commands."""
    if status.state == "ready":
        return None
    name, typed = code(record.name), escape(record.name)
    config = record.config
    if status.state == "starting":
        return NextStep(
            f"{name} is still starting: `/mcp list` shows when it is ready; `/mcp reload {typed}` starts it again."
        )
    if status.state == "stopped":
        return NextStep(f"{name} is not running: `/mcp enable {typed}` starts it.")
    if status.state == "needs_auth":
        return NextStep(
            f"{name} needs you to sign in: press *Sign in again*.",
            (ids.FIX_SERVER, f"reconnect:{record.id}", "Sign in again"),
        )
    advised = "`/mcp " in status.detail
    if isinstance(config, RemoteServerConfig) and isinstance(config.auth, ApiKeyAuth):
        text = f"Re-enter the API key of {name} (or change its URL): press *Re-enter API key*"
        return NextStep(
            text + ("." if advised else f" or type `/mcp edit {typed}`."),
            (ids.FIX_SERVER, f"edit:{record.id}", "Re-enter API key"),
        )
    what = "the URL" if isinstance(config, RemoteServerConfig) else "the command, arguments or environment"
    if advised:
        text = f"Press *Edit* to change {what} of {name}."
    else:
        text = (
            f"Press *Edit* (or type `/mcp edit {typed}`) to change {what} of {name}; "
            f"`/mcp reload {typed}` tries again once the cause is gone."
        )
    return NextStep(text, (ids.FIX_SERVER, f"edit:{record.id}", truncate(f"Edit {record.name}", 75)))


def not_saved_step(name: str) -> NextStep:
    """A confirmed change that was refused on its own (name taken, expired, refused by the policy)."""
    return NextStep(f"Nothing was saved for {code(name)}: do what the message above says, then add it again.")


def refused_batch_step(change_ids: list[str], *, can_retry: bool) -> NextStep:
    """The whole confirmation was refused (e.g. the server limit): nothing was saved."""
    if can_retry:
        return NextStep(
            "Nothing was saved. Once there is room, press *Try again*.",
            (ids.CONFIRM_CHANGE, ",".join(change_ids), "Try again"),
        )
    return NextStep("Nothing was saved: do what the message above says, then start again.")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _step_block(step: NextStep) -> dict[str, Any]:
    block = _section(f"• {truncate(step.text, _SECTION_LIMIT)}")
    if step.action is not None:
        action_id, value, label = step.action
        block["accessory"] = {
            "type": "button",
            "action_id": action_id,
            "value": value[:2000],
            "text": {"type": "plain_text", "text": label},
        }
    return block


def report_message(title: str, lines: list[str], steps: list[NextStep]) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks). `Done` only when nothing needs the owner; otherwise the report ends with the
    next steps, so a failure never closes on a bare `Done`."""
    heading = FINISHED_WITH_PROBLEMS if steps and title == DONE else title
    body = "\n".join(lines) or "Nothing to do."
    blocks = [_section(f"*{escape(heading)}*")]
    blocks += [_section(piece) for piece in chunks(body, _SECTION_LIMIT)][:MAX_LINE_SECTIONS]
    text = "\n".join(lines)
    if steps:
        blocks.append(_section(f"*{NEXT_STEPS}*"))
        blocks += [_step_block(step) for step in steps[:MAX_STEPS]]
        if len(steps) > MAX_STEPS:
            blocks.append(_section(f"…and {len(steps) - MAX_STEPS} more: see `/mcp list`."))
        text += f"\n{NEXT_STEPS}: " + " ".join(step.text for step in steps)
    return text[:3000], blocks
