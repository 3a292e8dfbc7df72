"""Watches `data/users/*/mcp.json`, `mcp_remote.json` and the revocation signals, and reports what changed.

The app's own mirror writes are recognised by content (sha256 of what ConfigMirror wrote), never by timing.
What an edit means is decided above this layer, by the `MirrorEvents` it reports to.

The cost is fixed, whatever the number of owners: one inotify watch (the signals folder) and a scan of the owners'
two files by `stat`, paced so that it takes at most a twentieth of the time (a file whose stat changed is reported
once it is the same in two scans in a row, so a save in progress is never read half-written). A recursive watch of
`data/users` would cost one watch per folder below it: every owner's, and every folder in their servers' homes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Protocol

from watchfiles import Change, awatch

from app.domain.owner import Owner
from app.store.config_mirror import LOCAL_FILE, REMOTE_FILE, ConfigMirror
from app.store.revocation_signals import RevocationSignals

log = logging.getLogger(__name__)

_DELETED = "deleted"
_GONE = -1  # a file's stat signature once it no longer exists
_SCAN_SHARE = 20  # a scan may take at most 1/_SCAN_SHARE of the time between scans
_SEEN_SECONDS = 600.0  # how long the last handled content of a file is remembered


class MirrorEvents(Protocol):
    async def local_file_changed(self, owner: Owner, content: bytes | None) -> None:
        """`content` is None when the file was deleted; it holds at most `max_file_bytes` + 1 bytes."""

    async def remote_file_changed(self, owner: Owner, content: bytes | None) -> None: ...

    async def server_revoked(self, owner: Owner, server_id: str) -> None: ...


class MirrorWatcher:
    def __init__(
        self,
        mirror: ConfigMirror,
        signals: RevocationSignals,
        events: MirrorEvents,
        *,
        max_file_bytes: int,
        debounce_ms: int = 150,
        tick_ms: int = 250,
    ) -> None:
        self._mirror = mirror
        self._signals = signals
        self._events = events
        self._max_file_bytes = max_file_bytes
        self._debounce_ms = debounce_ms
        self._tick_ms = tick_ms
        # Last content handled per file, so one save is reported once; remembered for a while, not forever.
        self._seen: dict[Path, tuple[float, str]] = {}
        # Stat signature per watched file ("owner/mcp.json"): the one handled, and one seen once that may still change.
        self._handled: dict[str, int] = {}
        self._changing: dict[str, int] = {}
        self._next_scan = 0.0
        self.ready = asyncio.Event()  # set once the OS watch is in place: later edits are never missed
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in the background until close(); starting twice is a no-op."""
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.get_running_loop().create_task(self.run(self._stop), name="config-watcher")
            self._task.add_done_callback(_log_failure)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()  # the watch thread notices within one tick
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=5)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        except Exception:  # boundary: a crashed watcher (already logged) must not stop the app shutting down
            pass

    async def run(self, stop: asyncio.Event) -> None:
        users, signals = self._mirror.users_dir, self._signals.directory
        for directory in (users, signals):
            await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True, mode=0o700)
        await self._revocations()  # left over from while the app was not running
        self._handled = await asyncio.to_thread(_scan, users)  # what is there now is the baseline
        async for changes in awatch(
            signals,
            watch_filter=self._relevant,
            stop_event=stop,
            debounce=self._debounce_ms,
            rust_timeout=self._tick_ms,
            yield_on_timeout=True,
            recursive=False,
        ):
            self.ready.set()
            paths = {Path(p) for _, p in changes}
            if time.monotonic() >= self._next_scan:
                paths.update(await self._scan_owner_files())
            for path in sorted(paths):
                try:
                    await self._handle(path)
                except Exception:  # boundary: one bad edit or a Slack outage must not stop the watcher
                    log.exception("config watcher: handling a change of %s failed", path.name)

    def _relevant(self, change: Change, raw: str) -> bool:
        path = Path(raw)
        return path.parent == self._signals.directory and path.suffix == ".json" and not path.name.startswith(".")

    async def _scan_owner_files(self) -> list[Path]:
        """The owner files whose stat changed and then held still for one scan (or that were deleted)."""
        started = time.monotonic()
        now = await asyncio.to_thread(_scan, self._mirror.users_dir)
        took = time.monotonic() - started
        self._next_scan = time.monotonic() + took * (_SCAN_SHARE - 1)
        settled: list[str] = []
        for key, signature in now.items():
            if self._handled.get(key) == signature:
                self._changing.pop(key, None)
            elif self._changing.get(key) == signature:
                settled.append(key)
            else:
                self._changing[key] = signature
        for key in self._handled.keys() - now.keys():
            if self._changing.get(key) == _GONE:
                settled.append(key)
            else:
                self._changing[key] = _GONE
        for key in settled:
            signature = self._changing.pop(key)
            if signature == _GONE:
                del self._handled[key]
            else:
                self._handled[key] = signature
        self._forget_seen_before(time.monotonic() - _SEEN_SECONDS)
        return [self._mirror.users_dir / key for key in settled]

    def _forget_seen_before(self, cutoff: float) -> None:
        for path in [p for p, (when, _) in self._seen.items() if when < cutoff]:
            del self._seen[path]

    async def _handle(self, path: Path) -> None:
        if path.parent == self._signals.directory:
            await self._revocations()
            return
        try:
            owner = Owner.from_id(path.parent.name)
        except ValueError:
            return
        content = await asyncio.to_thread(_read_capped, path, self._max_file_bytes + 1)
        digest = _DELETED if content is None else hashlib.sha256(content).hexdigest()
        seen = self._seen.get(path)
        if seen is not None and seen[1] == digest:
            return
        self._seen[path] = (time.monotonic(), digest)
        if content is not None and self._mirror.is_own_write(path, content):
            return
        if path.name == LOCAL_FILE:
            await self._events.local_file_changed(owner, content)
        else:
            await self._events.remote_file_changed(owner, content)

    async def _revocations(self) -> None:
        for revocation in await asyncio.to_thread(self._signals.take_all):
            try:
                owner = Owner.from_id(revocation.owner_id)
            except ValueError:
                continue
            await self._events.server_revoked(owner, revocation.server_id)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("the config watcher stopped: edits on disk are not picked up until a restart", exc_info=error)


def _scan(users: Path) -> dict[str, int]:
    """In a worker thread: a stat signature (inode, size, mtime) of every owner's two files, by "owner/file"."""
    found: dict[str, int] = {}
    try:
        owners = [entry.name for entry in os.scandir(users) if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return found
    for owner in owners:
        for name in (LOCAL_FILE, REMOTE_FILE):
            key = f"{owner}/{name}"
            try:
                stat = os.stat(os.path.join(users, key), follow_symlinks=False)
            except OSError:
                continue
            found[key] = hash((stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return found


def _read_capped(path: Path, limit: int) -> bytes | None:
    try:
        with path.open("rb") as handle:
            return handle.read(limit)
    except FileNotFoundError:
        return None
