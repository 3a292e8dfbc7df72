"""The config of a local (stdio) server, exactly as its owner approved it."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.domain.errors import InvalidConfig
from app.domain.text_rules import has_invisible

MAX_COMMAND_BYTES = 256
MAX_ARGS = 64
MAX_ARG_BYTES = 4096
MAX_ENV = 32
MAX_ENV_VALUE_BYTES = 4096
MAX_CWD_BYTES = 1024
# The whole command line must fit, untruncated, in the confirmation Slack shows.
MAX_COMMAND_LINE_BYTES = 8192
# The PATH a local server gets unless the admin sets PLUGBOARD_CHILD_PATH (owners may not set PATH).
DEFAULT_CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
# Names that may not be set, each group with the reason the owner is told. Checked in order, first match wins.
# Package-registry and proxy settings are allowed but flagged on the confirmation (see app/domain/risk.py).
_REFUSED_ENV: tuple[tuple[str, str], ...] = (
    (
        r"PATH|HOME|SHELL|USER|LOGNAME|TERM|LANG|TMPDIR",
        "Plugboard sets it itself",
    ),
    (
        # TLS first: `PYTHONHTTPSVERIFY` and `GIT_SSL_NO_VERIFY` would match the broader code patterns below.
        r"SSL_CERT_.*|SSLKEYLOGFILE|NODE_TLS_REJECT_UNAUTHORIZED|NODE_EXTRA_CA_CERTS|REQUESTS_CA_BUNDLE|"
        r"CURL_CA_BUNDLE|PYTHONHTTPSVERIFY|GIT_SSL_.*|NPM_CONFIG_(STRICT_SSL|CA|CAFILE)|PIP_(CERT|TRUSTED_HOST)|"
        r"UV_INSECURE_HOST|YARN_(STRICT_SSL|ENABLE_STRICT_SSL|CAFILE|CA_FILE_PATH)|DENO_CERT|DENO_TLS_CA_STORE",
        "it changes which certificates are trusted or weakens TLS checks",
    ),
    (
        r"LD_.*|DYLD_.*|GLIBC_TUNABLES|GCONV_PATH|LOCPATH|MALLOC_.*|OPENSSL_(CONF|ENGINES|MODULES)|"
        r"PYTHON.*|NODE_OPTIONS|NODE_PATH|NODE_REPL_EXTERNAL_MODULE|PERL5.*|PERLLIB|RUBYOPT|RUBYLIB|"
        r"JAVA_TOOL_OPTIONS|JDK_JAVA_OPTIONS|CLASSPATH|LUA_INIT.*|PHPRC|PHP_INI_SCAN_DIR|"
        r"BASH_ENV|ENV|IFS|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|ZDOTDIR|XDG_.*|GIT_.*|"
        r"NPM_CONFIG_(NODE_OPTIONS|SCRIPT_SHELL|SHELL|ONLOAD_SCRIPT|USERCONFIG|GLOBALCONFIG)|"
        r"UV_CONFIG_FILE|PIP_CONFIG_FILE",
        "it changes which code runs (what the program loads, or a config file you would not see here)",
    ),
)
_REFUSED_ENV_PATTERNS = tuple((re.compile(f"^(?:{pattern})$"), reason) for pattern, reason in _REFUSED_ENV)
# Every refused name in one pattern, for callers that only need yes or no.
DANGEROUS_ENV = re.compile("^(?:" + "|".join(pattern for pattern, _ in _REFUSED_ENV) + ")$")
NETWORK_CHOICES = ("internet", "none", "host")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class LocalServerConfig(BaseModel):
    """command + args + env + cwd; env values are secrets and never leave the process unencrypted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["stdio"] = "stdio"
    command: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    # Sandboxed servers keep the network unless their owner marks them offline.
    offline: bool = False
    # "internet" (public addresses only), "none" (loopback only) or "host"; None: the admin policy's default.
    network: Literal["internet", "none", "host"] | None = None

    def __repr__(self) -> str:
        masked = dict.fromkeys(self.env, "***")
        return f"LocalServerConfig(command={self.command!r}, args={self.args!r}, env={masked!r}, cwd={self.cwd!r})"

    __str__ = __repr__

    def network_or(self, default: Literal["internet", "none", "host"]) -> Literal["internet", "none", "host"]:
        """The network this server gets: its own setting, "none" for the older `offline`, else the default."""
        if self.network is not None:
            return self.network
        return "none" if self.offline else default

    def command_line(self) -> str:
        """The exact argv, shell-quoted for display; never truncated."""
        import shlex

        return shlex.join([self.command, *self.args])

    def approval_hash(self) -> str:
        """sha256 of the canonical JSON: any change to what runs needs a new approval."""
        data = self.model_dump(mode="json")
        if data["network"] is None:
            del data["network"]  # unset, as in every config approved before the setting existed
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def runtime_differs_from(self, other: object) -> bool:
        return not isinstance(other, LocalServerConfig) or self.approval_hash() != other.approval_hash()

    def secret_values(self) -> dict[str, str]:
        return dict(self.env)

    def public_dict(self) -> dict[str, Any]:
        public = self.model_dump(mode="json", exclude={"env"})
        public["env_names"] = list(self.env)
        return public

    @classmethod
    def from_public(cls, public: dict[str, Any], secrets: dict[str, str]) -> LocalServerConfig:
        data = dict(public)
        names: list[str] = data.pop("env_names", [])
        data["env"] = {name: secrets.get(name, "") for name in names}
        data["args"] = tuple(data.get("args", ()))
        return cls(**data)


def build_local_config(
    *,
    command: str,
    args: list[str] | tuple[str, ...],
    env: dict[str, str],
    cwd: str | None,
    offline: bool = False,
    network: str | None = None,
) -> LocalServerConfig:
    """Validate every field and return the config, or raise InvalidConfig naming each bad field."""
    problems: dict[str, str] = {}
    command = command.strip()
    if not command:
        problems["command"] = "Enter the program to run, e.g. `npx` or `/usr/local/bin/my-server`."
    elif problem := _text_problem(command, MAX_COMMAND_BYTES, "The command"):
        problems["command"] = problem
    elif any(ch.isspace() for ch in command):
        problems["command"] = "Put only the program in Command; put each argument on its own line under Arguments."
    if len(args) > MAX_ARGS:
        problems["args"] = f"At most {MAX_ARGS} arguments (got {len(args)})."
    else:
        for index, arg in enumerate(args, start=1):
            if problem := _text_problem(arg, MAX_ARG_BYTES, f"Argument {index}", allow_empty=True):
                problems["args"] = problem
                break
    if "args" not in problems and "command" not in problems:
        import shlex

        if len(shlex.join([command, *args]).encode()) > MAX_COMMAND_LINE_BYTES:
            problems["args"] = f"The whole command line is longer than {MAX_COMMAND_LINE_BYTES} bytes."
    if env_problem := _env_problem(env):
        problems["env"] = env_problem
    if cwd is not None:
        cwd = cwd.strip() or None
    if cwd is not None and (problem := _cwd_problem(cwd)):
        problems["cwd"] = problem
    if network is not None and network not in NETWORK_CHOICES:
        problems["network"] = 'Network must be "internet" (public addresses only), "none" or "host".'
    if problems:
        raise InvalidConfig(problems)
    try:
        return LocalServerConfig(
            command=command,
            args=tuple(args),
            env=dict(env),
            cwd=cwd,
            offline=offline,
            network=network,  # checked against NETWORK_CHOICES above
        )
    except ValidationError as exc:  # defensive: the checks above should cover every rule
        raise InvalidConfig.single("command", exc.errors()[0]["msg"]) from None


def _text_problem(
    value: str, max_bytes: int, label: str, *, allow_empty: bool = False, shown: bool = True
) -> str | None:
    """`shown`: the value appears in the confirmation, so nothing in it may be invisible there."""
    if "\x00" in value:
        return f"{label} contains a NUL byte."
    if _CONTROL.search(value):
        return f"{label} contains control characters."
    if _SURROGATE.search(value):
        return f"{label} contains invalid Unicode (a lone surrogate)."
    if shown and has_invisible(value):
        return (
            f"{label} contains invisible characters (zero-width, bidi or other format characters): "
            "what you confirm must be exactly what runs."
        )
    if len(value.encode()) > max_bytes:
        return f"{label} is longer than {max_bytes} bytes."
    if not allow_empty and not value:
        return f"{label} is empty."
    return None


def _env_problem(env: dict[str, str]) -> str | None:
    if len(env) > MAX_ENV:
        return f"At most {MAX_ENV} environment variables (got {len(env)})."
    for name, value in env.items():
        if not name:
            return "An environment variable has an empty name."
        if not ENV_NAME.fullmatch(name):
            return (
                f"`{_printable(name)}` is not a valid variable name: use UPPERCASE letters, digits and '_', "
                "starting with a letter."
            )
        if reason := refused_env_reason(name):
            return f"`{name}` cannot be set: {reason}."
        if problem := _text_problem(value, MAX_ENV_VALUE_BYTES, f"The value of {name}", allow_empty=True, shown=False):
            return problem
    return None


def refused_env_reason(name: str) -> str | None:
    """Why a variable of this name may not be set, or None when it may."""
    return next((reason for pattern, reason in _REFUSED_ENV_PATTERNS if pattern.fullmatch(name)), None)


def _cwd_problem(cwd: str) -> str | None:
    if problem := _text_problem(cwd, MAX_CWD_BYTES, "The working directory"):
        return problem
    if ".." in cwd.split("/"):
        return "The working directory cannot contain `..`."
    return None


def _printable(text: str) -> str:
    return _CONTROL.sub("?", text)[:64]


def parse_env_lines(text: str) -> dict[str, str]:
    """`KEY=value` lines -> dict; blank lines and `#` comments are skipped."""
    env: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise InvalidConfig.single("env", f"Line {number} is not `KEY=value`.")
        name = name.strip()
        if name in env:
            raise InvalidConfig.single("env", f"`{_printable(name)}` is set twice.")
        env[name] = value
    return env


def parse_arg_lines(text: str) -> list[str]:
    """One argument per line, kept exactly (a line is an argv element, never split on spaces)."""
    return [line for line in text.splitlines() if line.strip() != ""]


_REMOTE_TYPES = ("http", "sse", "streamable-http", "streamableHttp", "streamable_http")
_REMOTE_URL_KEYS = ("url", "serverUrl", "httpUrl")


def config_from_mapping(entry: Any, *, where: str) -> LocalServerConfig:
    """A local server entry from imported JSON (`{"command", "args", "env", "cwd", "type"}`)."""
    if not isinstance(entry, dict):
        raise InvalidConfig.single("json", f"{where}: expected an object with `command`, got {type(entry).__name__}.")
    kind = entry.get("type", "stdio")
    # Checked before unknown fields: a remote entry carries `url`/`headers`, and its owner needs the pointer.
    if kind in _REMOTE_TYPES or any(key in entry for key in _REMOTE_URL_KEYS):
        raise InvalidConfig.single("json", f"{where}: remote servers are added with `/mcp connect`, not as JSON.")
    allowed = {"type", "command", "args", "env", "cwd", "offline", "network"}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise InvalidConfig.single(
            "json", f"{where}: unknown field `{_printable(unknown[0])}` (allowed: {', '.join(sorted(allowed))})."
        )
    if kind != "stdio":
        raise InvalidConfig.single("json", f'{where}: `type` must be "stdio".')
    command = entry.get("command")
    if not isinstance(command, str):
        raise InvalidConfig.single("json", f"{where}: `command` must be a string.")
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise InvalidConfig.single("json", f"{where}: `args` must be a list of strings.")
    env = entry.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise InvalidConfig.single("json", f"{where}: `env` must map names to string values.")
    cwd = entry.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        raise InvalidConfig.single("json", f"{where}: `cwd` must be a string.")
    offline = entry.get("offline", False)
    if not isinstance(offline, bool):
        raise InvalidConfig.single("json", f"{where}: `offline` must be true or false.")
    network = entry.get("network")
    if network is not None and network not in NETWORK_CHOICES:
        raise InvalidConfig.single("json", f'{where}: `network` must be "internet", "none" or "host".')
    try:
        return build_local_config(command=command, args=args, env=env, cwd=cwd, offline=offline, network=network)
    except InvalidConfig as exc:
        field, message = next(iter(exc.problems.items()))
        raise InvalidConfig.single("json", f"{where}: {field}: {message}") from None


def with_paths_moved(config: LocalServerConfig, paths: tuple[str, ...], folder: str) -> LocalServerConfig:
    """The config with each of `paths` (whole arguments, or the value of `--flag=path`) replaced by `folder`;
    with several, each becomes a subfolder of `folder` named after it."""
    moved = {path: folder if len(paths) == 1 else f"{folder}/{path.rstrip('/').rsplit('/', 1)[-1]}" for path in paths}
    args = []
    for arg in config.args:
        flag, sep, value = arg.partition("=")
        if arg in moved:
            args.append(moved[arg])
        elif sep and arg.startswith("-") and value in moved:
            args.append(f"{flag}={moved[value]}")
        else:
            args.append(arg)
    return config.model_copy(update={"args": tuple(args)})
