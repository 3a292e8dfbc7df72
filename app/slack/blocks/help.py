"""The /mcp help text."""

from __future__ import annotations

from typing import Any

COMMANDS = [
    ("/mcp list", "your servers, their status and actions"),
    ("/mcp add", "add a local (stdio) server through a form"),
    ("/mcp connect", "connect a remote server (URL, then none / API key / OAuth)"),
    ("/mcp add-json <json>", "add servers from a Claude Desktop, VS Code or Claude Code config, or `name {config}`"),
    ("/mcp upload", "review and apply a config file (Claude Desktop, VS Code, Claude Code or a download)"),
    ("/mcp download", "get your config as files in a DM (secrets stay out of them)"),
    ("/mcp edit <name>", "change a server (changes to what runs need a new confirmation)"),
    ("/mcp enable <name>", "start a disabled server"),
    ("/mcp disable <name>", "stop a server and keep its config"),
    ("/mcp remove <name>", "stop and delete a server"),
    ("/mcp tools [name]", "the tools your servers offer"),
    ("/mcp call <server>__<tool> [json]", "call a tool (named as `/mcp tools` lists it) with JSON arguments"),
    ("/mcp run [server] [tool]", "run a tool through a form built from its inputs; the result comes to your DM"),
    ("/mcp allow <server>__<tool>", "let a denied or held tool be used"),
    ("/mcp deny <server>__<tool>", "stop a tool from being used"),
    ("/mcp ask <server>__<tool>", "have the assistant ask you before each call of a tool"),
    ("/mcp reload [name]", "restart your servers (or one)"),
    ("/mcp audit [N]", "your last N audit entries"),
    ("/mcp help", "this help"),
]


def help_text() -> str:
    return "Plugboard: your own MCP servers in Slack.\n" + "\n".join(f"{c} — {d}" for c, d in COMMANDS)


def help_blocks(intro: str | None = None) -> list[dict[str, Any]]:
    lines = "\n".join(f"`{c}` — {d}" for c, d in COMMANDS)
    blocks: list[dict[str, Any]] = []
    if intro:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": intro}})
    blocks.append(
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Plugboard* — your own MCP servers in Slack"}}
    )
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": lines}})
    return blocks
