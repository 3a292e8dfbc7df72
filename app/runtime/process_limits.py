"""Per-server caps that no process inside the sandbox can lift or multiply, enforced by cgroups.

RLIMIT_NPROC does not bind root (nor a uid shared by many servers), and RLIMIT_AS is per process: a server
that forks could multiply it. So each server also gets its own cgroup `plugboard/<instance>/<key>` with
`pids.max` (the process cap) and, where the memory controller is writable, a memory limit for the whole tree
(processes, and the RAM disks it writes to). cgroup v1 `pids`/`memory`, or a delegated cgroup v2 tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

V1_ROOT = Path("/sys/fs/cgroup/pids")
V1_MEMORY_ROOT = Path("/sys/fs/cgroup/memory")
V2_ROOT = Path("/sys/fs/cgroup/unified")
V2_PURE_ROOT = Path("/sys/fs/cgroup")


class ProcessLimiter:
    def __init__(self, root: Path | None, memory_root: Path | None = None) -> None:
        self._root = root  # pids groups
        self._memory_root = memory_root  # memory groups; the same folder as `root` on cgroup v2

    @classmethod
    def detect(cls, instance: str) -> ProcessLimiter:
        """`instance` keeps apps with different data dirs (and parallel test runs) out of each other's groups."""
        for candidate in (V1_ROOT, V2_ROOT, V2_PURE_ROOT):
            if (candidate / "cgroup.procs").exists() and _writable_for(candidate, "pids"):
                memory: Path | None = None
                if candidate == V1_ROOT:
                    if (V1_MEMORY_ROOT / "cgroup.procs").exists() and os.access(V1_MEMORY_ROOT, os.W_OK):
                        memory = V1_MEMORY_ROOT / "plugboard" / instance
                elif _writable_for(candidate, "memory"):
                    memory = candidate / "plugboard" / instance
                limiter = cls(candidate / "plugboard" / instance, memory)
                limiter.remove_stale()
                return limiter
        return cls(None)

    @property
    def available(self) -> bool:
        return self._root is not None

    @property
    def limits_memory(self) -> bool:
        return self._memory_root is not None

    def _roots(self) -> list[Path]:
        return list(dict.fromkeys(r for r in (self._root, self._memory_root) if r is not None))

    def prepare(self, key: str, max_processes: int, max_memory_bytes: int | None = None) -> list[Path]:
        """Create the server's groups and return the `cgroup.procs` files the child must join (maybe none)."""
        if self._root is None:
            return []
        group = self._root / key
        group.mkdir(parents=True, exist_ok=True)
        (group / "pids.max").write_text(str(max_processes))
        procs = [group / "cgroup.procs"]
        if self._memory_root is not None and max_memory_bytes is not None:
            memory = self._memory_root / key
            memory.mkdir(parents=True, exist_ok=True)
            if (memory / "memory.max").exists():  # v2
                (memory / "memory.max").write_text(str(max_memory_bytes))
                with contextlib.suppress(OSError):
                    (memory / "memory.swap.max").write_text("0")
            else:  # v1: the RAM limit first, then RAM+swap to the same value (no swapping out of the limit)
                (memory / "memory.limit_in_bytes").write_text(str(max_memory_bytes))
                with contextlib.suppress(OSError):
                    (memory / "memory.memsw.limit_in_bytes").write_text(str(max_memory_bytes))
            if memory != group:
                procs.append(memory / "cgroup.procs")
        return procs

    def release(self, key: str) -> None:
        """Kill anything left in the server's groups (belt and braces over the PID namespace) and remove them."""
        for root in self._roots():
            _empty_and_remove(root / key)

    def remove_stale(self) -> None:
        """Groups left by a crashed earlier run; empty ones are removed, busy ones killed first."""
        for root in self._roots():
            if root.is_dir():
                for group in root.iterdir():
                    if group.is_dir():
                        _empty_and_remove(group)

    def remove_instance(self) -> None:
        for root in self._roots():
            with contextlib.suppress(OSError):
                root.rmdir()


def _empty_and_remove(group: Path) -> None:
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


def _writable_for(root: Path, controller: str) -> bool:
    if root == V1_ROOT:
        return os.access(root, os.W_OK)
    controllers = root / "cgroup.subtree_control"
    try:
        return controller in controllers.read_text().split() and os.access(root, os.W_OK)
    except OSError:
        return False
