"""The per-owner JSON files: a write-through mirror of the database, never the source of truth."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.domain.placeholders import secret_placeholder
from app.domain.remote_config import ApiKeyAuth, OAuthAuth, RemoteServerConfig
from app.domain.server import ServerRecord

LOCAL_FILE = "mcp.json"
REMOTE_FILE = "mcp_remote.json"


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
        if config.network is not None:
            entry["network"] = config.network
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


def document_text(document: dict[str, Any]) -> str:
    """Exactly what the mirror writes (and a download sends) for a document."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


class ConfigMirror:
    # The last few contents written per file: the watcher may read a file while a newer write is under way.
    _REMEMBERED_WRITES = 4
    # How long a write is remembered: far longer than the watcher takes to see it, short enough that memory stays
    # bounded by recent writes, not by every owner there is.
    _REMEMBER_SECONDS = 300.0

    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self._users_dir = data_dir / "users"
        self._written: dict[Path, tuple[float, deque[str]]] = {}
        self._written_lock = threading.Lock()
        self._clock = clock
        self._next_prune = clock() + self._REMEMBER_SECONDS

    @property
    def users_dir(self) -> Path:
        return self._users_dir

    def is_own_write(self, path: Path, content: bytes) -> bool:
        """Whether `content` is what this mirror itself recently wrote to `path` (compared by sha256)."""
        digest = hashlib.sha256(content).hexdigest()
        with self._written_lock:
            entry = self._written.get(path)
            return entry is not None and digest in entry[1]

    def remembered_files(self) -> int:
        with self._written_lock:
            return len(self._written)

    def _write(self, path: Path, text: str) -> None:
        now = self._clock()
        with self._written_lock:  # remembered before the file changes, so the watcher never sees it unknown
            _, digests = self._written.pop(path, (now, deque(maxlen=self._REMEMBERED_WRITES)))
            digests.append(hashlib.sha256(text.encode()).hexdigest())
            self._written[path] = (now, digests)  # re-inserted: the dict stays ordered by last write
            if now >= self._next_prune:
                self._forget_before(now - self._REMEMBER_SECONDS)
                self._next_prune = now + self._REMEMBER_SECONDS / 10
        write_atomically(path, text)

    def _forget_before(self, cutoff: float) -> None:
        for path in list(self._written):  # oldest first
            if self._written[path][0] > cutoff:
                break
            del self._written[path]

    def owner_dir(self, owner: Owner) -> Path:
        return self._users_dir / owner.id

    def local_path(self, owner: Owner) -> Path:
        return self.owner_dir(owner) / LOCAL_FILE

    def remote_path(self, owner: Owner) -> Path:
        return self.owner_dir(owner) / REMOTE_FILE

    def write(self, owner: Owner, servers: list[ServerRecord]) -> None:
        self._write(self.local_path(owner), document_text(local_document(servers)))
        remote = remote_document(servers)
        if remote["mcpServers"] or self.remote_path(owner).exists():
            self._write(self.remote_path(owner), document_text(remote))

    def sync(self, owner: Owner, servers: list[ServerRecord]) -> bool:
        """Rewrite the owner's files only where they differ from `servers`; True when anything was written."""
        wrote = False
        local = document_text(local_document(servers))
        if _read_or_none(self.local_path(owner)) != local:
            self._write(self.local_path(owner), local)
            wrote = True
        remote = remote_document(servers)
        current = _read_or_none(self.remote_path(owner))
        if (remote["mcpServers"] or current is not None) and current != document_text(remote):
            self._write(self.remote_path(owner), document_text(remote))
            wrote = True
        return wrote

    def read(self, owner: Owner) -> dict[str, Any] | None:
        path = self.local_path(owner)
        if not path.exists():
            return None
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded


def _read_or_none(path: Path) -> str | None:
    try:
        return path.read_text()
    except (FileNotFoundError, UnicodeDecodeError):
        return None


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
