"""`data/revocations/*.json`: how the admin CLI tells a running app that a server was revoked.

The CLI changes the database, then drops a small file here; the app's config watcher sees it, stops the server
and deletes the file. Leftover files (the app was not running) are handled at the next start.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from app.store.config_mirror import write_atomically

SIGNALS_DIR = "revocations"
_MAX_SIGNAL_BYTES = 4096


@dataclass(frozen=True)
class Revocation:
    owner_id: str
    server_id: str


class RevocationSignals:
    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / SIGNALS_DIR

    def send(self, revocation: Revocation) -> Path:
        path = self.directory / f"{secrets.token_hex(8)}.json"
        write_atomically(path, json.dumps({"owner_id": revocation.owner_id, "server_id": revocation.server_id}))
        return path

    def take_all(self) -> list[Revocation]:
        """Every pending signal, each deleted once read; unreadable ones are dropped."""
        if not self.directory.is_dir():
            return []
        found: list[Revocation] = []
        for path in sorted(self.directory.glob("[!.]*.json")):
            try:
                with path.open("rb") as handle:
                    loaded = json.loads(handle.read(_MAX_SIGNAL_BYTES))
                if isinstance(loaded, dict) and all(isinstance(loaded.get(k), str) for k in ("owner_id", "server_id")):
                    found.append(Revocation(loaded["owner_id"], loaded["server_id"]))
            except (OSError, ValueError):
                pass
            path.unlink(missing_ok=True)
        return found
