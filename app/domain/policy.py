"""The admin policy: what local and remote servers may do, caps, and the default tool denylist.

Loaded from a TOML file (PLUGBOARD_POLICY_FILE); every field has a safe default, unknown keys are errors.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

LocalMode = Literal["sandboxed", "catalog", "trusted", "off"]
# internet: public addresses only (never the host, its loopback or private networks); none: loopback only;
# host: the host's own network, no isolation (single-user installs).
NetworkMode = Literal["internet", "none", "host"]

# Tools whose names or descriptions suggest running code or changing files start denied.
DEFAULT_TOOL_DENYLIST = (
    r"(^|[_\-.])(shell|exec|execute|bash|sh|zsh|powershell|cmd|terminal|console|eval|run_?command|run_?code|"
    r"subprocess|spawn|python|node|script)($|[_\-.])",
    r"(^|[_\-.])(write|edit|delete|remove|rm|rmdir|unlink|move|mv|rename|copy|cp|chmod|chown|truncate|"
    r"overwrite|create_directory|mkdir|patch)[_\-.]?(file|files|dir|directory|path)?($|[_\-.])",
    r"(^|[_\-.])(write_file|edit_file|delete_file|move_file|file_write|fs_write|apply_patch)($|[_\-.])",
    # Version-control writes and other state-changing verbs, first in the name or after a namespace (`git_push`).
    # Anchored at the start so nouns stay readable: `get_commit`, `git_diff_staged`, `list_deployments` are reads.
    r"^((git|hg|svn|vcs|repo|db|sql|k8s|kube|docker|container|process|service|app)[_\-.])?"
    r"(commit|push|reset|checkout|merge|rebase|revert|cherry_pick|stash|stage|unstage|create_branch|delete_branch|"
    r"create_tag|delete_tag|drop|kill|terminate|deploy|publish)($|[_\-.])",
    # Words that are writes only as version-control commands (`add` alone is a calculator's tool).
    r"^(git|hg|svn|vcs)[_\-.](add|tag|init|clone|pull|switch|restore|rm|mv|clean|apply|am)($|[_\-.])",
    # Knowledge-graph / memory writes: `create_entities`, `add_observations`, `delete_relations`, `update_memory`.
    r"^((memory|graph|kg)[_\-.])?(create|add|delete|remove|update)_(entit|relation|observation|memor|node|edge)",
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
    # What a server's network is when its owner does not choose; "host" only if allow_host_network.
    network: NetworkMode = "internet"
    allow_host_network: bool = False
    # Networks (CIDR) a sandboxed server may reach although they are private, e.g. an internal package
    # registry. Shown on every confirmation card while set.
    allow_networks: tuple[str, ...] = ()
    # When Plugboard runs as root, each owner's servers run as one uid of [uid_base, uid_base + uid_count).
    uid_base: int = Field(default=200_000, ge=1000, le=2**31 - 2**20)
    uid_count: int = Field(default=100_000, ge=1, le=2**20)
    # The group that may open /dev/net/tun (slirp4netns runs with it; no server ever has it). One value for
    # every Plugboard on the host: each start sets it on the device.
    tun_gid: int = Field(default=199_999, ge=1000, le=2**31 - 1)

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, networks: tuple[str, ...]) -> tuple[str, ...]:
        for network in networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network such as 10.20.0.0/16 or 203.0.113.7/32") from None
        return networks

    @model_validator(mode="after")
    def _tun_group_outside_the_uid_range(self) -> LocalServerPolicy:
        if self.uid_base <= self.tun_gid < self.uid_base + self.uid_count:
            raise ValueError("tun_gid must not be one of the servers' uids (uid_base .. uid_base + uid_count - 1)")
        return self

    @model_validator(mode="after")
    def _host_network_allowed(self) -> LocalServerPolicy:
        if self.network == "host" and not self.allow_host_network:
            raise ValueError('network = "host" needs allow_host_network = true (single-user installs only)')
        return self

    def networks_for_owners(self) -> tuple[NetworkMode, ...]:
        """The network settings an owner may choose for a server."""
        return ("internet", "none", "host") if self.allow_host_network else ("internet", "none")

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
    # A running server nobody has used for this long is stopped (it starts again on its next use).
    idle_minutes: float = Field(default=10, gt=0, le=7 * 24 * 60)
    connect_timeout_seconds: float = Field(default=30, gt=0, le=600)
    # The first start of an npx/uvx/… server downloads the package before the handshake.
    first_start_timeout_seconds: float = Field(default=300, gt=0, le=3600)
    request_timeout_seconds: float = Field(default=60, gt=0, le=3600)
    result_chars_slack: int = Field(default=3000, ge=100, le=40000)
    result_chars_agent: int = Field(default=20000, ge=100, le=1_000_000)
    description_chars: int = Field(default=2000, ge=100, le=100_000)
    processes: int = Field(default=64, ge=4, le=4096)
    memory_mb: int = Field(default=1024, ge=64, le=65536)
    file_size_mb: int = Field(default=100, ge=1, le=65536)
    open_files: int = Field(default=256, ge=16, le=65536)
    # Disk space of each server's private home (a filesystem of its own when Plugboard runs as root).
    home_quota_mb: int = Field(default=512, ge=16, le=1_048_576)
    # Disk space an owner's servers share: the workspace folder and the npm/uv package caches.
    workspace_quota_mb: int = Field(default=2048, ge=64, le=1_048_576)


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


class AssistantPolicy(_Strict):
    """The Plugboard assistant (an LLM using each person's tools), when the app's settings configure a model."""

    # Answer @mentions in channels (DMs always work). Raw tool results are never posted in a channel either way.
    in_channels: bool = True
    # Per person: turns started per minute, and turns running at once (further messages are told when to retry).
    turns_per_minute: int = Field(default=10, ge=1, le=1000)
    concurrent_turns: int = Field(default=2, ge=1, le=100)
    # How long a tool call waits for its owner's Allow / Deny before the model is told the approval expired.
    approval_minutes: int = Field(default=30, ge=1, le=24 * 60)


class Policy(_Strict):
    local_servers: LocalServerPolicy = LocalServerPolicy()
    assistant: AssistantPolicy = AssistantPolicy()
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


def exposing_read_only_paths(read_only_paths: tuple[str, ...], protected: tuple[str, ...]) -> list[str]:
    """One message per admin `read_only_paths` entry that would show a path only the app may see.

    `protected` are absolute, resolved paths (data dir, working dir, settings files, key file); an entry equal to
    one of them, or a folder holding one, would put it inside every sandbox.
    """
    problems = []
    for entry in read_only_paths:
        folder = entry.rstrip("/")
        for path in protected:
            if path == folder or path.startswith(folder + "/"):
                problems.append(
                    f"local_servers.read_only_paths entry {entry!r} would show {path} to every sandboxed server; "
                    "list a folder that does not contain Plugboard's data dir, working dir, settings or key files"
                )
                break
    return problems
