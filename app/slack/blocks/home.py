"""App Home: the owner's dashboard. Add / Connect / Help, each server with its status, tool count and actions, the
tools that need the owner, and their latest audit entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain.audit import AuditEntry
from app.domain.registered_tool import RegisteredTool
from app.services.server_service import ServerOverview
from app.slack import ids
from app.slack.blocks.audit import audit_line
from app.slack.blocks.help import help_blocks
from app.slack.blocks.plain import button
from app.slack.blocks.server_list import server_list_blocks
from app.slack.text import code, escape, truncate

MAX_ATTENTION = 15
MAX_SERVER_BLOCKS = 41  # 40 rows and the "…and N more" line
_STATE_ICON = {"held": ":pause_button:", "denied": ":no_entry:"}


@dataclass(frozen=True)
class HomeContent:
    servers: list[ServerOverview]
    attention: list[RegisteredTool] = field(default_factory=list)  # held and denied tools
    audit: list[AuditEntry] = field(default_factory=list)  # newest first
    # None: the assistant is set up (nothing to say); else the line that says it is not, and what works meanwhile.
    assistant_unavailable: str | None = None


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 3000)}]}


def _packed(lines: list[str]) -> list[dict[str, Any]]:
    """Lines in as few sections as fit (a section's text is at most 3000 characters)."""
    blocks: list[dict[str, Any]] = []
    current: list[str] = []
    for line in (truncate(line, 2900) for line in lines):
        if current and len("\n".join([*current, line])) > 2900:
            blocks.append(_section("\n".join(current)))
            current = []
        current.append(line)
    if current:
        blocks.append(_section("\n".join(current)))
    return blocks


def attention_line(tool: RegisteredTool) -> str:
    why = f" ({escape(truncate(tool.reason, 200))})" if tool.reason else ""
    return f"{_STATE_ICON.get(tool.state, '')} {code(tool.exposed_name)} _{tool.state}_{why}"


def _attention_blocks(tools: list[RegisteredTool]) -> list[dict[str, Any]]:
    blocks = [_section("*Tools that need you*")]
    if not tools:
        return [*blocks, _context("Nothing needs you: every tool your servers offer is allowed.")]
    held = [t for t in tools if t.state == "held"]
    ordered = [*held, *(t for t in tools if t.state != "held")]  # held first: they wait for an answer
    lines = [attention_line(t) for t in ordered[:MAX_ATTENTION]]
    if len(ordered) > MAX_ATTENTION:
        lines.append(f"…and {len(ordered) - MAX_ATTENTION} more: see `/mcp tools`.")
    blocks += _packed(lines)
    blocks.append(
        _context(
            "Held and denied tools cannot be called. `/mcp allow SERVER__TOOL` lets one be used "
            "(risky ones ask again); `/mcp deny SERVER__TOOL` stops one."
        )
    )
    return blocks


def _audit_blocks(entries: list[AuditEntry]) -> list[dict[str, Any]]:
    blocks = [_section("*Recent activity*")]
    if not entries:
        return [*blocks, _context("Nothing yet: adding a server or calling a tool is recorded here.")]
    blocks += _packed([audit_line(e) for e in entries])
    blocks.append(_context("`/mcp audit 20` shows more."))
    return blocks


def home_view(content: HomeContent) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your MCP servers"}},
        {
            "type": "actions",
            "block_id": "home_actions",
            "elements": [
                button(ids.OPEN_ADD_MODAL, "Add local server", style="primary"),
                button(ids.OPEN_CONNECT_MODAL, "Connect remote server"),
                button(ids.RUN_OPEN_PICKER, "Run a tool"),
                button(ids.OPEN_HELP, "Help"),
            ],
        },
        _section("*Servers*"),
        *server_list_blocks(content.servers)[:MAX_SERVER_BLOCKS],
        {"type": "divider"},
        *_attention_blocks(content.attention),
        {"type": "divider"},
        *_audit_blocks(content.audit),
        _context(
            content.assistant_unavailable
            or "Message me in the *Messages* tab (or @mention me in a channel) and I'll use your tools to answer."
        ),
        _context("`/mcp help` lists every command. Tools appear as `server__tool`."),
    ]
    return {"type": "home", "blocks": blocks[:100]}


def help_modal() -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": ids.HELP_MODAL,
        "title": {"type": "plain_text", "text": "Plugboard help"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": help_blocks(),
    }
