"""The per-owner JSON files: a write-through mirror of the database, never the source of truth."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.domain.remote_config import ApiKeyAuth, OAuthAuth, RemoteServerConfig
from app.domain.server import ServerRecord

LOCAL_FILE = "mcp.json"
REMOTE_FILE = "mcp_remote.json"


def secret_placeholder(name: str) -> str:
    return "${secret:" + name + "}"


def local_document(servers: list[ServerRecord]) -> dict[str, Any]:
    """The familiar `{"mcpServers": {...}}` shape, with every env value replaced by a placeholder."""
    entries: dict[str, Any] = {}
    for server in sorted(servers, key=lambda s: s.name):
        config = server.config
        if not isinstance(config, LocalServerConfig):
            continue
        entry: dict[str, Any] = {"type": "stdio", "command": config.command, "args": list(config.args)}
        if config.env:
            entry["env"] = {name: secret_placeholder(name) for name in config.env}
        if config.cwd:
            entry["cwd"] = config.cwd
        if config.offline:
            entry["offline"] = True
        if not server.enabled:
            entry["disabled"] = True
        entries[server.name] = entry
    return {"mcpServers": entries}


def remote_document(servers: list[ServerRecord]) -> dict[str, Any]:
    """Remote servers in the common `{"type": "http"|"sse", "url", "headers"}` shape; secrets as placeholders."""
    entries: dict[str, Any] = {}
    for server in sorted(servers, key=lambda s: s.name):
        config = server.config
        if not isinstance(config, RemoteServerConfig):
            continue
        entry: dict[str, Any] = {"type": "sse" if config.transport == "sse" else "http", "url": config.url}
        if config.transport == "auto":
            entry["fallback"] = "sse"
        if isinstance(config.auth, ApiKeyAuth):
            entry["headers"] = {config.auth.header: secret_placeholder("api_key")}
        elif isinstance(config.auth, OAuthAuth):
            auth: dict[str, Any] = {"type": "oauth", "scopes": list(config.auth.scopes)}
            if config.auth.client_id:
                auth["client_id"] = config.auth.client_id
            if config.auth.client_secret:
                auth["client_secret"] = secret_placeholder("client_secret")
            entry["auth"] = auth
        if not server.enabled:
            entry["disabled"] = True
        entries[server.name] = entry
    return {"mcpServers": entries}


class ConfigMirror:
    def __init__(self, data_dir: Path) -> None:
        self._users_dir = data_dir / "users"

    def owner_dir(self, owner: Owner) -> Path:
        return self._users_dir / owner.id

    def local_path(self, owner: Owner) -> Path:
        return self.owner_dir(owner) / LOCAL_FILE

    def remote_path(self, owner: Owner) -> Path:
        return self.owner_dir(owner) / REMOTE_FILE

    def write(self, owner: Owner, servers: list[ServerRecord]) -> None:
        document = local_document(servers)
        write_atomically(self.local_path(owner), json.dumps(document, indent=2, sort_keys=True) + "\n")
        remote = remote_document(servers)
        if remote["mcpServers"] or self.remote_path(owner).exists():
            write_atomically(self.remote_path(owner), json.dumps(remote, indent=2, sort_keys=True) + "\n")

    def read(self, owner: Owner) -> dict[str, Any] | None:
        path = self.local_path(owner)
        if not path.exists():
            return None
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded


def write_atomically(path: Path, text: str) -> None:
    """Temp file in the same folder + fsync + os.replace: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
