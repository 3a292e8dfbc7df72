"""The per-owner JSON files: a write-through mirror of the database, never the source of truth."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from app.domain.owner import Owner
from app.domain.server import ServerRecord

LOCAL_FILE = "mcp.json"


def secret_placeholder(name: str) -> str:
    return "${secret:" + name + "}"


def local_document(servers: list[ServerRecord]) -> dict[str, Any]:
    """The familiar `{"mcpServers": {...}}` shape, with every env value replaced by a placeholder."""
    entries: dict[str, Any] = {}
    for server in sorted(servers, key=lambda s: s.name):
        entry: dict[str, Any] = {"type": "stdio", "command": server.config.command, "args": list(server.config.args)}
        if server.config.env:
            entry["env"] = {name: secret_placeholder(name) for name in server.config.env}
        if server.config.cwd:
            entry["cwd"] = server.config.cwd
        if server.config.offline:
            entry["offline"] = True
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

    def write(self, owner: Owner, servers: list[ServerRecord]) -> None:
        document = local_document([s for s in servers if s.config.type == "stdio"])
        write_atomically(self.local_path(owner), json.dumps(document, indent=2, sort_keys=True) + "\n")

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
