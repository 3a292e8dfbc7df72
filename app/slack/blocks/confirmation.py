"""The consent message: exactly what will run, shown whole, with Confirm / Cancel."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from app.domain.local_config import LocalServerConfig
from app.domain.remote_config import OAuthAuth, RemoteServerConfig
from app.domain.server import PendingChange
from app.domain.status import ServerStatus
from app.services.local_gate import RunConditions
from app.slack import ids
from app.slack.text import chunks, code, escape, escaped_chunks

_SECTION_LIMIT = 2900
WARNING = (
    ":warning: *This runs a program on the Plugboard host* with the arguments and environment below. "
    "It can do anything that program can do. Confirm only commands you trust."
)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def conditions_text(conditions: RunConditions) -> str:
    if conditions.sandboxed:
        home = "private home folder"
        if conditions.home_quota_mb is not None:
            home += f" ({conditions.home_quota_mb} MiB)"
        lines = [f":lock: Runs in a sandbox: {home}, read-only system, {_network_text(conditions)}."]
    else:
        lines = [
            ":rotating_light: *No sandbox* (admin set trusted mode): it runs with Plugboard's own access "
            "to this host, its files and its network."
        ]
    lines += [f":warning: {escape(flag)}" for flag in conditions.flags]
    return "\n".join(lines)


def _network_text(conditions: RunConditions) -> str:
    if conditions.network == "none":
        return "network *off*"
    if conditions.network == "host":
        return "network *the host's own* (not isolated: it can reach this host and its private networks)"
    text = "network *internet only* (public addresses; never this host or private networks)"
    if conditions.allow_networks:
        text += "; your admin also allows " + ", ".join(code(n) for n in conditions.allow_networks)
    return text


def remote_change_blocks(change: PendingChange, config: RemoteServerConfig) -> list[dict[str, Any]]:
    verb = "Connect" if change.kind == "add" else "Change"
    host = urlsplit(config.url).hostname or "?"
    lines = [
        f"*{verb} remote server {code(change.name)}*",
        f"*Server:* {code(config.url)} (host {code(host)})",
        f"*Transport:* {escape(config.transport_label())}",
        f"*Authentication:* {escape(config.auth_label())}",
    ]
    if isinstance(config.auth, OAuthAuth):
        scopes = " ".join(config.auth.scopes) or "whatever the server asks for"
        lines.append(f"*Scopes:* {escape(scopes)}")
        lines.append("After you confirm, I'll DM you a *Connect* button to sign in at the authorization server.")
    return [_section("\n".join(lines)[:3000])]


def change_blocks(change: PendingChange, conditions: RunConditions | None) -> list[dict[str, Any]]:
    config = change.config
    if isinstance(config, RemoteServerConfig):
        return remote_change_blocks(change, config)
    verb = "Add" if change.kind == "add" else "Change"
    blocks = [_section(f"*{verb} server {code(change.name)}* — exact command line:")]
    # Never truncated: a long command is split over several sections instead.
    blocks += [_section("```" + piece + "```") for piece in escaped_chunks(config.command_line(), _SECTION_LIMIT)]
    env = ", ".join(f"{code(name)}=••••••" for name in config.env) or "_none_"
    details = [
        f"*Environment:* {env}",
        f"*Working directory:* {code(config.cwd) if config.cwd else '_private folder_'}",
    ]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "\n".join(details)}]})
    if conditions is not None:
        blocks.append(_section(conditions_text(conditions)[:3000]))
        if conditions.hidden_paths:
            button = {
                "type": "button",
                "action_id": ids.USE_WORKSPACE,
                "value": change.id,
                "text": {"type": "plain_text", "text": "Use my workspace instead"},
            }
            blocks.append({"type": "actions", "block_id": f"workspace_{change.id}"[:255], "elements": [button]})
    return blocks


def confirmation_blocks(changes: list[tuple[PendingChange, RunConditions | None]]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": "Review before running"}}]
    for change, conditions in changes:
        blocks += change_blocks(change, conditions)
    if any(isinstance(c.config, LocalServerConfig) for c, _ in changes):
        blocks.append(_section(WARNING))
    value = ",".join(c.id for c, _ in changes)
    blocks.append(
        {
            "type": "actions",
            "block_id": "change_decision",
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.CONFIRM_CHANGE,
                    "style": "primary",
                    "value": value,
                    "text": {"type": "plain_text", "text": "Confirm and start"},
                },
                {
                    "type": "button",
                    "action_id": ids.CANCEL_CHANGE,
                    "value": value,
                    "text": {"type": "plain_text", "text": "Cancel"},
                },
            ],
        }
    )
    return blocks


def confirmation_text(changes: list[tuple[PendingChange, RunConditions | None]]) -> str:
    names = ", ".join(c.name for c, _ in changes)
    return f"Review before running: {names}"


def status_line(name: str, status: ServerStatus, tool_names: list[str]) -> str:
    line = f"{code(name)}: {escape(status.label())}"
    if status.state == "ready" and tool_names:
        shown = ", ".join(code(t) for t in tool_names[:20])
        more = f" and {len(tool_names) - 20} more" if len(tool_names) > 20 else ""
        line += f": {shown}{more}"
    return line


def progress_blocks(lines: list[str], *, title: str) -> list[dict[str, Any]]:
    body = "\n".join(lines) or "Nothing to do."
    return [_section(f"*{escape(title)}*"), *[_section(piece) for piece in chunks(body, _SECTION_LIMIT)][:40]]
