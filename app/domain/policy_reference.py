"""The admin policy's reference table (README "Admin policy"), generated from the `Policy` model itself.

Pure: walks the pydantic fields (key path, type, default) and takes each description from the field's own
`description` or, failing that, from DESCRIPTIONS below. `scripts/policy_reference.py` writes the table into
README.md between the markers; tests/unit/test_readme.py fails when the two differ or a key has no description.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from app.domain.policy import Policy

START_MARKER = "<!-- policy-reference:start -->"
END_MARKER = "<!-- policy-reference:end -->"
REGENERATE = ".venv/bin/python scripts/policy_reference.py"
LONG_DEFAULT = 60  # longer defaults (the tool denylist) are summarised, not printed

# What each key does, by its path in the policy file. A field's own `Field(description=...)` wins over this.
DESCRIPTIONS: dict[str, str] = {
    "admins": "Slack user ids (`U…`) of Plugboard admins: they may read everyone's audit log (`/mcp audit everyone`).",
    "admin_servers_for": "Who gets the local servers of `PLUGBOARD_ADMIN_SERVERS_FILE`: `everyone` (each person "
    "runs their own copy, started on first use; their own server of the same name comes first) or `nobody`.",
    "local_servers.mode": "How local (stdio) servers run: `sandboxed` under bubblewrap; `catalog` sandboxed and "
    "only the commands in `local_servers.catalog`; `trusted` without a sandbox (single-user installs only); "
    "`off` refuses them.",
    "local_servers.catalog": 'With `mode = "catalog"`, the only commands people may add: one '
    "`[[local_servers.catalog]]` table per allowed command.",
    "local_servers.catalog[].command": "The program, exactly as a server's config must name it (e.g. `npx`).",
    "local_servers.catalog[].args_prefix": "The arguments a server's own must start with, e.g. "
    '`["-y", "@modelcontextprotocol/server-everything@2026.8.31"]`; anything may follow them.',
    "local_servers.catalog[].description": "A note for whoever reads the policy file; Plugboard does not use it.",
    "local_servers.read_only_paths": "Absolute host folders every sandboxed server sees read-only, besides the "
    "system folders (e.g. a shared tools folder). A folder that would show Plugboard's data dir, working dir, "
    "settings or key files is refused at start-up.",
    "local_servers.network": "The network of a sandboxed server whose config does not choose one: `internet` "
    "(public addresses only, never this host or private networks), `none` (loopback only) or `host` (the host's "
    "own network, no isolation; needs `allow_host_network`).",
    "local_servers.allow_host_network": 'Lets servers have `"network": "host"`, i.e. no network isolation '
    "(single-user installs only).",
    "local_servers.allow_networks": "Private networks (CIDR, e.g. `10.20.0.0/16`) that sandboxed servers with "
    "internet access may reach too, such as an internal package registry; stated on every confirmation while set.",
    "local_servers.uid_base": "When Plugboard runs as root, each owner's servers run as one uid from `uid_base` "
    "to `uid_base + uid_count - 1`, kept in `data/users/<owner>/sandbox-uid`.",
    "local_servers.uid_count": "How many uids that range holds: at most this many owners can run local servers.",
    "local_servers.tun_gid": "The group that may open `/dev/net/tun` (slirp4netns runs with it, servers never "
    "do); outside the uid range, and one value for every Plugboard on the host.",
    "assistant.in_channels": "Whether the assistant answers @mentions in channels (DMs always work when a model "
    "is configured). Either way, raw tool results are never posted in a channel, only the model's answer.",
    "assistant.turns_per_minute": "Assistant turns one person may start per minute; beyond it they are told when "
    "to try again.",
    "assistant.concurrent_turns": "Assistant turns of one person running at the same time (one per thread; "
    "further messages in a thread wait their turn).",
    "assistant.approval_minutes": "How long a tool call waits for its owner's Allow / Deny in the thread before the "
    "model is told the approval expired.",
    "limits.servers_per_owner": "Servers one person may have (local and remote, enabled or not); checked when "
    "proposed and again when confirmed.",
    "limits.live_servers_per_owner": "Servers of one person running at the same time.",
    "limits.live_servers_total": "Servers running at the same time on this Plugboard, everyone's together. At the "
    "cap, starting one stops the least recently used idle server; when every running server is busy, a start waits "
    "up to 30 s for one to finish and then answers that Plugboard is busy.",
    "limits.idle_minutes": "A running server nobody has used for this many minutes is stopped; nothing in flight is "
    "cut, and it starts again on its next use (servers start on first use, never at boot).",
    "limits.connect_timeout_seconds": "How long a server may take to start and finish the MCP handshake.",
    "limits.first_start_timeout_seconds": "How long the first start of an `npx`/`uvx`/… server may take: it "
    "downloads the package before the handshake (never less than `connect_timeout_seconds`).",
    "limits.request_timeout_seconds": "How long one request to a server (such as a tool call) may take.",
    "limits.result_chars_slack": "Characters of a tool result shown in Slack; the rest is cut with a visible note.",
    "limits.result_chars_agent": "Characters of a tool result the assistant's model may see; the rest is cut "
    "with a note in the text.",
    "limits.description_chars": "Characters of a tool's description that are kept; the rest is cut.",
    "limits.processes": "Processes (threads included) one local server may have at once.",
    "limits.memory_mb": "Memory of one local server in MiB (its whole process tree when a memory cgroup is "
    "available, otherwise each process's address space).",
    "limits.file_size_mb": "Largest file a local server may write, in MiB; also the size of its RAM-disk `/tmp`.",
    "limits.open_files": "Files each process of a local server may have open at once.",
    "limits.home_quota_mb": "Disk space of each local server's private home, in MiB (a filesystem of its own when "
    "Plugboard runs as root; without root there is no quota).",
    "limits.workspace_quota_mb": "Disk space, in MiB, that one owner's local servers share: their workspace "
    "folder and the npm/uv package caches (enforced when Plugboard runs as root).",
    "remote.allowed_hosts": "Hosts remote servers may be reached at although they are private: CIDR networks "
    "(`10.20.0.0/16`), exact names (`wiki.corp.example`) or subdomain wildcards (`*.corp.example`). Link-local "
    "and metadata addresses stay refused.",
    "remote.allow_http_loopback": "Allows plain `http://` to loopback addresses (otherwise https only); for "
    "development.",
    "remote.allowed_ports": "The ports remote servers may be reached on.",
    "remote.allow_any_port": "Any port is allowed; `allowed_ports` is ignored.",
    "tools.denylist": "Regular expressions (case-insensitive) matched against tool names: a matching tool starts "
    "denied and allowing it takes a second confirmation. Setting it replaces the built-in list. Tools whose "
    "descriptions say they run commands or change files, or speak to the AI, are denied whatever this says.",
}


@dataclass(frozen=True)
class PolicyKey:
    path: str
    type: str
    default: str
    description: str | None


def policy_keys(model: type[BaseModel] = Policy, prefix: str = "") -> list[PolicyKey]:
    """Every key of the policy file, a section's plain keys before its sub-sections."""
    keys: list[PolicyKey] = []
    sections: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        path = prefix + name
        section = _model(field.annotation)
        if section is not None:
            sections.append((path + ".", section))
            continue
        keys.append(PolicyKey(path, _type_text(field), _default_text(field), _description(path, field)))
        if (entry := _entry_model(field.annotation)) is not None:  # an array of tables, e.g. the catalog
            keys += policy_keys(entry, prefix=f"{path}[].")
    for section_prefix, section in sections:
        keys += policy_keys(section, prefix=section_prefix)
    return keys


def missing_descriptions() -> list[str]:
    return [key.path for key in policy_keys() if not key.description]


def unknown_descriptions() -> list[str]:
    """Paths described here that the model no longer has (a renamed or removed key)."""
    paths = {key.path for key in policy_keys()}
    return sorted(set(DESCRIPTIONS) - paths)


def reference_table() -> str:
    lines = ["| Key | Type | Default | What it does |", "|---|---|---|---|"]
    for key in policy_keys():
        cells = (f"`{key.path}`", key.type, key.default, key.description or "")
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def reference_block() -> str:
    """The table with its markers, as it stands in the README."""
    note = f"<!-- generated from app/domain/policy.py by `{REGENERATE}`; do not edit by hand -->\n"
    return f"{START_MARKER}\n{note}{reference_table()}{END_MARKER}"


def current_block(readme: str) -> str | None:
    """The marked block of `readme`, markers included, or None when the markers are missing."""
    start = readme.find(START_MARKER)
    end = readme.find(END_MARKER, start)
    if start < 0 or end < 0:
        return None
    return readme[start : end + len(END_MARKER)]


def with_reference(readme: str) -> str:
    """`readme` with its marked block replaced by the generated one."""
    block = current_block(readme)
    if block is None:
        raise ValueError(f"the README has no {START_MARKER} … {END_MARKER} block")
    return readme.replace(block, reference_block(), 1)


# -- rendering -----------------------------------------------------------------------------------------------


def _description(path: str, field: FieldInfo) -> str | None:
    return field.description or DESCRIPTIONS.get(path)


def _model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _entry_model(annotation: Any) -> type[BaseModel] | None:
    if get_origin(annotation) in (tuple, list):
        return next((m for m in map(_model, get_args(annotation)) if m is not None), None)
    return None


def _type_text(field: FieldInfo) -> str:
    text = _annotation_text(field.annotation)
    bounds = _bounds(field)
    return f"{text}, {bounds}" if bounds else text


def _annotation_text(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{_toml(v)}`" for v in get_args(annotation))
    if origin in (tuple, list):
        items = [a for a in get_args(annotation) if a is not Ellipsis]
        if items and _model(items[0]) is not None:
            return "array of tables"
        return "array of " + (_plural(_annotation_text(items[0])) if items else "values")
    if origin in (Union, types.UnionType):
        return " or ".join(_annotation_text(a) for a in get_args(annotation) if a is not type(None))
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(annotation, str(annotation))


def _plural(text: str) -> str:
    return {"boolean": "booleans", "integer": "integers", "number": "numbers", "string": "strings"}.get(text, text)


def _bounds(field: FieldInfo) -> str:
    low = high = ""
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            low = f"at least {_number(item.ge)}"
        elif isinstance(item, annotated_types.Gt):
            low = f"more than {_number(item.gt)}"
        elif isinstance(item, annotated_types.Le):
            high = f"at most {_number(item.le)}"
        elif isinstance(item, annotated_types.Lt):
            high = f"less than {_number(item.lt)}"
    return ", ".join(b for b in (low, high) if b)


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    text = _toml(value)
    if len(text) > LONG_DEFAULT and isinstance(value, tuple | list):
        return f"{len(value)} built-in entries (`app/domain/policy.py`)"
    return f"`{text}`"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, BaseModel):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.model_dump().items()) + "}"
    return str(value)


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _cell(text: str) -> str:
    """A Markdown table cell: one line, and a `|` that does not end the cell."""
    return " ".join(text.split()).replace("|", "\\|")
