"""A whole config file (upload or on-disk edit) read into neutral entries; placeholders are not resolved yet.

Accepted: Claude Desktop `claude_desktop_config.json` and Claude Code `.mcp.json` (`mcpServers`), VS Code
`mcp.json` (`servers` + `inputs`), and Plugboard's own `mcp.json` / `mcp_remote.json` downloads. Header values of
remote entries are checked for type and then dropped: nothing downstream can show them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from app.domain.errors import InvalidConfig
from app.domain.local_config import NETWORK_CHOICES, LocalServerConfig, build_local_config
from app.domain.names import server_name_problem
from app.domain.placeholders import INPUT_ID, plain_text_problem
from app.domain.remote_config import HEADER_NAME
from app.domain.strict_json import loads_strict

MAX_FILE_BYTES = 256 * 1024
MAX_SERVERS_PER_FILE = 32
MAX_INPUTS = 32
MAX_URL_CHARS = 2048
_WRAPPERS = {"mcpServers": "config (Claude Desktop, Claude Code or Plugboard)", "servers": "VS Code config"}
# Claude Desktop keeps app settings beside `mcpServers`; they mean nothing here and are skipped.
_SKIPPED_TOP_LEVEL = {"$schema", "globalShortcut", "preferences"}
_LOCAL_KEYS = {"type", "command", "args", "env", "cwd", "offline", "network", "disabled"}
_REMOTE_KEYS = {"type", "url", "serverUrl", "httpUrl", "headers", "fallback", "auth", "disabled"}
_REMOTE_TYPES = {"http": "http", "streamable-http": "http", "streamableHttp": "http", "sse": "sse"}
_INPUT_KEYS = {"type", "id", "description", "password", "default", "options"}


@dataclass(frozen=True)
class LocalEntry:
    name: str
    config: LocalServerConfig  # env values exactly as written: literals or placeholders
    disabled: bool


@dataclass(frozen=True)
class RemoteEntry:
    """Where a remote server lives; never its header values. `url` has no userinfo, query or fragment."""

    name: str
    url: str
    transport: Literal["http", "sse"]
    header_names: tuple[str, ...]
    url_trimmed: bool


@dataclass(frozen=True)
class SecretInput:
    """A VS Code `inputs` entry: a value the owner types in before the change is stored."""

    id: str
    description: str
    password: bool
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConfigDocument:
    kind: str
    local: tuple[LocalEntry, ...]
    remote: tuple[RemoteEntry, ...]
    inputs: tuple[SecretInput, ...]

    def names(self) -> set[str]:
        return {e.name for e in self.local} | {e.name for e in self.remote}


def decode_config_file(content: bytes, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The text of a config file: at most `max_bytes`, UTF-8 (a byte-order mark is allowed)."""
    if len(content) > max_bytes:
        raise InvalidConfig.single("json", f"The file is larger than {max_bytes // 1024} KB.")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidConfig.single("json", "The file is not UTF-8 text (is it really a JSON config?).") from None


def parse_config_document(text: str, *, max_bytes: int = MAX_FILE_BYTES) -> ConfigDocument:
    """Parse and validate every entry; raise InvalidConfig (field `json`) naming the first problem."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise InvalidConfig.single("json", "The file is empty.")
    document = loads_strict(text, max_bytes=max_bytes)
    if not isinstance(document, dict):
        raise InvalidConfig.single("json", "Expected a JSON object at the top level.")
    wrappers = [w for w in _WRAPPERS if w in document]
    if len(wrappers) != 1:
        raise InvalidConfig.single(
            "json",
            "Expected exactly one of `mcpServers` (Claude Desktop, Claude Code, Plugboard) or `servers` (VS Code) "
            "at the top level.",
        )
    wrapper = wrappers[0]
    unknown = sorted(set(document) - {wrapper, "inputs"} - _SKIPPED_TOP_LEVEL)
    if unknown:
        raise InvalidConfig.single("json", f"Unknown top-level field `{_shown(unknown[0])}` next to `{wrapper}`.")
    entries = document[wrapper]
    if not isinstance(entries, dict):
        raise InvalidConfig.single("json", f"`{wrapper}` must be an object of name -> server.")
    if len(entries) > MAX_SERVERS_PER_FILE:
        raise InvalidConfig.single("json", f"At most {MAX_SERVERS_PER_FILE} servers in one file (got {len(entries)}).")
    local: list[LocalEntry] = []
    remote: list[RemoteEntry] = []
    for name, entry in entries.items():
        if problem := server_name_problem(name):
            raise InvalidConfig.single("json", f"Server name `{_shown(name, 40)}`: {problem}")
        where = f"`{name}`"
        if not isinstance(entry, dict):
            raise InvalidConfig.single("json", f"{where}: expected an object, got {type(entry).__name__}.")
        if _is_remote(entry):
            remote.append(_remote_entry(name, entry, where))
        else:
            local.append(_local_entry(name, entry, where))
    inputs = _inputs(document.get("inputs", []))
    return ConfigDocument(_WRAPPERS[wrapper], tuple(local), tuple(remote), inputs)


def _is_remote(entry: dict[str, Any]) -> bool:
    return entry.get("type") in _REMOTE_TYPES or any(k in entry for k in ("url", "serverUrl", "httpUrl"))


def _local_entry(name: str, entry: dict[str, Any], where: str) -> LocalEntry:
    if "envFile" in entry:
        raise InvalidConfig.single("json", f"{where}: `envFile` names a file on your computer; put values in `env`.")
    unknown = sorted(set(entry) - _LOCAL_KEYS)
    if unknown:
        allowed = ", ".join(sorted(_LOCAL_KEYS))
        raise InvalidConfig.single("json", f"{where}: unknown field `{_shown(unknown[0])}` (allowed: {allowed}).")
    if entry.get("type", "stdio") != "stdio":
        raise InvalidConfig.single("json", f'{where}: `type` must be "stdio", "http" or "sse".')
    command, args, env, cwd = entry.get("command"), entry.get("args", []), entry.get("env", {}), entry.get("cwd")
    if not isinstance(command, str):
        raise InvalidConfig.single("json", f"{where}: `command` must be a string.")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise InvalidConfig.single("json", f"{where}: `args` must be a list of strings.")
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise InvalidConfig.single("json", f"{where}: `env` must map names to string values.")
    if cwd is not None and not isinstance(cwd, str):
        raise InvalidConfig.single("json", f"{where}: `cwd` must be a string.")
    flags = {key: entry.get(key, False) for key in ("offline", "disabled")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise InvalidConfig.single("json", f"{where}: `{key}` must be true or false.")
    network = entry.get("network")
    if network is not None and network not in NETWORK_CHOICES:
        raise InvalidConfig.single("json", f'{where}: `network` must be "internet", "none" or "host".')
    try:
        config = build_local_config(
            command=command, args=args, env=env, cwd=cwd, offline=flags["offline"], network=network
        )
    except InvalidConfig as exc:
        field, message = next(iter(exc.problems.items()))
        raise InvalidConfig.single("json", f"{where}: {field}: {message}") from None
    if problem := plain_text_problem(config):
        raise InvalidConfig.single("json", f"{where}: {problem}")
    return LocalEntry(name, config, flags["disabled"])


def _remote_entry(name: str, entry: dict[str, Any], where: str) -> RemoteEntry:
    unknown = sorted(set(entry) - _REMOTE_KEYS)
    if unknown:
        raise InvalidConfig.single("json", f"{where}: unknown field `{_shown(unknown[0])}` in a remote server.")
    kind = entry.get("type", "http")
    if kind not in _REMOTE_TYPES:
        raise InvalidConfig.single("json", f'{where}: `type` of a remote server must be "http" or "sse".')
    urls = [entry[k] for k in ("url", "serverUrl", "httpUrl") if k in entry]
    if len(urls) != 1 or not isinstance(urls[0], str):
        raise InvalidConfig.single("json", f"{where}: a remote server needs one `url` string.")
    url, trimmed = _public_url(urls[0], where)
    headers = entry.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise InvalidConfig.single("json", f"{where}: `headers` must map names to string values.")
    for key in ("fallback", "auth"):
        if key in entry and not isinstance(entry[key], str | dict):
            raise InvalidConfig.single("json", f"{where}: `{key}` has the wrong type.")
    if not isinstance(entry.get("disabled", False), bool):
        raise InvalidConfig.single("json", f"{where}: `disabled` must be true or false.")
    names = tuple(h for h in headers if HEADER_NAME.fullmatch(h))
    return RemoteEntry(name, url, "sse" if _REMOTE_TYPES[kind] == "sse" else "http", names, trimmed)


def _public_url(raw: str, where: str) -> tuple[str, bool]:
    if len(raw) > MAX_URL_CHARS or any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in raw):
        raise InvalidConfig.single("json", f"{where}: the `url` is too long or contains spaces or control characters.")
    try:
        return public_url(raw)
    except ValueError:
        raise InvalidConfig.single("json", f"{where}: the `url` must be an https:// URL with a host.") from None


def public_url(raw: str) -> tuple[str, bool]:
    """The URL without userinfo, query or fragment (they may hold keys); True when something was cut.

    Raises ValueError when it is not an http(s) URL with a host."""
    parts = urlsplit(raw)
    host, port = parts.hostname, parts.port
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(raw)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    trimmed = bool(parts.username or parts.password or parts.query or parts.fragment)
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")), trimmed


def _inputs(raw: Any) -> tuple[SecretInput, ...]:
    if not isinstance(raw, list):
        raise InvalidConfig.single("json", "`inputs` must be a list.")
    if len(raw) > MAX_INPUTS:
        raise InvalidConfig.single("json", f"At most {MAX_INPUTS} `inputs`.")
    inputs: dict[str, SecretInput] = {}
    for index, item in enumerate(raw, start=1):
        where = f"`inputs` item {index}"
        if not isinstance(item, dict):
            raise InvalidConfig.single("json", f"{where} must be an object.")
        unknown = sorted(set(item) - _INPUT_KEYS)
        if unknown:
            raise InvalidConfig.single("json", f"{where}: unknown field `{_shown(unknown[0])}`.")
        ident, description = item.get("id"), item.get("description", "")
        if not isinstance(ident, str) or not INPUT_ID.fullmatch(ident):
            raise InvalidConfig.single("json", f"{where}: `id` must be letters, digits, `.`, `-` or `_`.")
        if ident in inputs:
            raise InvalidConfig.single("json", f"{where}: the input id `{ident}` appears twice.")
        if item.get("type", "promptString") not in ("promptString", "pickString"):
            raise InvalidConfig.single("json", f'{where}: `type` must be "promptString" or "pickString".')
        if not isinstance(description, str) or not isinstance(item.get("password", False), bool):
            raise InvalidConfig.single("json", f"{where}: `description` must be text and `password` true or false.")
        options = tuple(_option_value(o, where) for o in item.get("options", []) or [])
        inputs[ident] = SecretInput(ident, description[:500], bool(item.get("password", False)), options)
    return tuple(inputs.values())


def _option_value(option: Any, where: str) -> str:
    if isinstance(option, str):
        return option
    if isinstance(option, dict) and isinstance(option.get("value"), str):
        return str(option["value"])
    raise InvalidConfig.single("json", f"{where}: `options` must be strings.")


def _shown(text: str, limit: int = 64) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text[:limit]).replace("`", "'")
