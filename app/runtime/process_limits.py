"""A cap on how many processes one server may have, enforced by a cgroup (RLIMIT_NPROC does not bind root).

cgroup v1 `pids` or a delegated cgroup v2 tree; each server gets `plugboard/<key>` with `pids.max`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

V1_ROOT = Path("/sys/fs/cgroup/pids")
V2_ROOT = Path("/sys/fs/cgroup/unified")
V2_PURE_ROOT = Path("/sys/fs/cgroup")


class ProcessLimiter:
    def __init__(self, root: Path | None) -> None:
        self._root = root

    @classmethod
    def detect(cls, instance: str) -> ProcessLimiter:
        """`instance` keeps apps with different data dirs (and parallel test runs) out of each other's groups."""
        for candidate in (V1_ROOT, V2_ROOT, V2_PURE_ROOT):
            if (candidate / "cgroup.procs").exists() and _writable_for_pids(candidate):
                limiter = cls(candidate / "plugboard" / instance)
                limiter.remove_stale()
                return limiter
        return cls(None)

    @property
    def available(self) -> bool:
        return self._root is not None

    def prepare(self, key: str, max_processes: int) -> Path | None:
        """Create the server's group and return its `cgroup.procs` file for the child to join."""
        if self._root is None:
            return None
        group = self._root / key
        group.mkdir(parents=True, exist_ok=True)
        (group / "pids.max").write_text(str(max_processes))
        return group / "cgroup.procs"

    def release(self, key: str) -> None:
        """Kill anything left in the group (belt and braces over the PID namespace) and remove it."""
        if self._root is None:
            return
        group = self._root / key
        # Runs in a worker thread: a short bounded poll while killed processes finish exiting.
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            try:
                pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
            except FileNotFoundError:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            try:
                group.rmdir()
                return
            except OSError:
                time.sleep(0.01)

    def remove_stale(self) -> None:
        """Groups left by a crashed earlier run; empty ones are removed, busy ones killed first."""
        if self._root is None or not self._root.is_dir():
            return
        for group in self._root.iterdir():
            if group.is_dir():
                self.release(group.name)

    def remove_instance(self) -> None:
        if self._root is not None:
            with contextlib.suppress(OSError):
                self._root.rmdir()


def _writable_for_pids(root: Path) -> bool:
    if root == V1_ROOT:
        return os.access(root, os.W_OK)
    controllers = root / "cgroup.subtree_control"
    try:
        return "pids" in controllers.read_text().split() and os.access(root, os.W_OK)
    except OSError:
        return False
