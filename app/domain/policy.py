"""The admin policy: what local and remote servers may do, caps, and the default tool denylist.

Loaded from a TOML file (PLUGBOARD_POLICY_FILE); every field has a safe default, unknown keys are errors.
"""

from __future__ import annotations

import re
import tomllib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

LocalMode = Literal["sandboxed", "catalog", "trusted", "off"]

# Tools whose names or descriptions suggest running code or changing files start denied.
DEFAULT_TOOL_DENYLIST = (
    r"(^|[_\-.])(shell|exec|execute|bash|sh|zsh|powershell|cmd|terminal|console|eval|run_?command|run_?code|"
    r"subprocess|spawn|python|node|script)($|[_\-.])",
    r"(^|[_\-.])(write|edit|delete|remove|rm|rmdir|unlink|move|mv|rename|copy|cp|chmod|chown|truncate|"
    r"overwrite|create_directory|mkdir|patch)[_\-.]?(file|files|dir|directory|path)?($|[_\-.])",
    r"(^|[_\-.])(write_file|edit_file|delete_file|move_file|file_write|fs_write|apply_patch)($|[_\-.])",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogEntry(_Strict):
    """An admin-approved command: `command` exactly, and argv starting with `args_prefix`."""

    command: str
    args_prefix: tuple[str, ...] = ()
    description: str = ""

    def matches(self, command: str, args: tuple[str, ...]) -> bool:
        return command == self.command and args[: len(self.args_prefix)] == self.args_prefix


class LocalServerPolicy(_Strict):
    mode: LocalMode = "sandboxed"
    catalog: tuple[CatalogEntry, ...] = ()
    # Host paths visible (read-only) inside the sandbox besides the system directories.
    read_only_paths: tuple[str, ...] = ()

    @field_validator("read_only_paths")
    @classmethod
    def _absolute_folders(cls, paths: tuple[str, ...]) -> tuple[str, ...]:
        for path in paths:
            if not path.startswith("/") or ".." in path.split("/") or path.rstrip("/") == "":
                raise ValueError(f"{path!r} must be an absolute folder other than / (and without ..)")
        return paths


class Limits(_Strict):
    servers_per_owner: int = Field(default=20, ge=1, le=500)
    live_servers_per_owner: int = Field(default=10, ge=1, le=500)
    live_servers_total: int = Field(default=200, ge=1, le=10000)
    connect_timeout_seconds: float = Field(default=30, gt=0, le=600)
    request_timeout_seconds: float = Field(default=60, gt=0, le=3600)
    result_chars_slack: int = Field(default=3000, ge=100, le=40000)
    result_chars_agent: int = Field(default=20000, ge=100, le=1_000_000)
    description_chars: int = Field(default=2000, ge=100, le=100_000)
    processes: int = Field(default=64, ge=4, le=4096)
    memory_mb: int = Field(default=1024, ge=64, le=65536)
    file_size_mb: int = Field(default=100, ge=1, le=65536)
    open_files: int = Field(default=256, ge=16, le=65536)


class RemotePolicy(_Strict):
    # Hostnames or CIDR networks that may be reached even though they are private (e.g. an intranet).
    allowed_hosts: tuple[str, ...] = ()
    allow_http_loopback: bool = False
    allowed_ports: tuple[int, ...] = (443,)
    allow_any_port: bool = False


class ToolPolicy(_Strict):
    denylist: tuple[str, ...] = DEFAULT_TOOL_DENYLIST

    @field_validator("denylist")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"denylist pattern {pattern!r} is not a valid regex: {exc}") from None
        return patterns


class Policy(_Strict):
    local_servers: LocalServerPolicy = LocalServerPolicy()
    limits: Limits = Limits()
    remote: RemotePolicy = RemotePolicy()
    tools: ToolPolicy = ToolPolicy()
    admins: tuple[str, ...] = ()
    admin_servers_for: Literal["everyone", "nobody"] = "everyone"


class PolicyError(ValueError):
    """The policy file cannot be used; the message names the file and the bad setting."""


def parse_policy(text: str, *, source: str = "policy file") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source} is not valid TOML: {exc}") from None
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise PolicyError(f"{source} has invalid settings: {problems}") from None
