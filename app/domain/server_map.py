"""Turn pasted JSON in any common shape into named local server configs."""

from __future__ import annotations

import re
from typing import Any

from app.domain.errors import InvalidConfig
from app.domain.local_config import LocalServerConfig, config_from_mapping
from app.domain.names import server_name_problem
from app.domain.strict_json import loads_strict

MAX_SERVERS_PER_IMPORT = 32
_NAME_THEN_JSON = re.compile(r"^\s*([^\s{]+)\s+(\{.*)$", re.DOTALL)


def parse_server_map(text: str) -> dict[str, LocalServerConfig]:
    """Accepts `{"mcpServers": {...}}` (Claude Desktop / Claude Code), `{"servers": {...}}` (VS Code),
    a bare `{"name": {...}}` map, or `name {config}`."""
    text = text.strip()
    if not text:
        raise InvalidConfig.single("json", 'Paste a JSON config, e.g. `/mcp add-json time {"command": "uvx", ...}`.')
    if match := _NAME_THEN_JSON.match(text):
        document = loads_strict(match.group(2))
        return _named_entries({match.group(1): document})
    document = loads_strict(text)
    if not isinstance(document, dict):
        raise InvalidConfig.single("json", "Expected a JSON object.")
    for wrapper in ("mcpServers", "servers"):
        if wrapper in document:
            extra = sorted(set(document) - {wrapper, "inputs"})
            if extra:
                raise InvalidConfig.single("json", f"Unknown top-level field `{extra[0][:64]}` next to `{wrapper}`.")
            if document.get("inputs"):
                raise InvalidConfig.single(
                    "json", "VS Code `inputs` are not supported here: use `/mcp upload`, which asks for them."
                )
            inner = document[wrapper]
            if not isinstance(inner, dict):
                raise InvalidConfig.single("json", f"`{wrapper}` must be an object of name -> server.")
            return _named_entries(inner)
    if "command" in document:
        raise InvalidConfig.single(
            "json", "This looks like a single server without a name: use `/mcp add-json NAME {...}`."
        )
    return _named_entries(document)


def _named_entries(entries: dict[str, Any]) -> dict[str, LocalServerConfig]:
    if not entries:
        raise InvalidConfig.single("json", "No servers found in the JSON.")
    if len(entries) > MAX_SERVERS_PER_IMPORT:
        raise InvalidConfig.single("json", f"At most {MAX_SERVERS_PER_IMPORT} servers at once.")
    configs: dict[str, LocalServerConfig] = {}
    for name, entry in entries.items():
        if problem := server_name_problem(name):
            raise InvalidConfig.single("json", f"Server name `{name[:40]}`: {problem}")
        configs[name] = config_from_mapping(entry, where=f"`{name}`")
    return configs
