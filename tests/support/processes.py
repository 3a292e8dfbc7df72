"""What runs on this host and below this test process, read from Linux /proc (to prove every server is reaped).

The one /proc walker of the tests: everything else asks it, so "a process of ours" means the same everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    state: str  # "R", "S", …; "Z" for a zombie nobody reaped yet, "X" for one being removed
    argv: tuple[str, ...]

    @property
    def cmdline(self) -> str:
        """argv joined with spaces, as `ps` shows it."""
        return " ".join(self.argv)

    @property
    def running(self) -> bool:
        return self.state not in ("Z", "X")


def process(pid: int | str) -> Process | None:
    """The process with this pid, or None once it is gone (or was never there)."""
    try:
        stat = Path("/proc", str(pid), "stat").read_bytes().decode(errors="replace")
        raw = Path("/proc", str(pid), "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return None
    # The fields after the parenthesised command name (which may itself contain spaces or ')'): state, ppid, …
    fields = stat.rsplit(")", 1)[1].split()
    argv = raw.split("\0")
    if argv[-1] == "":  # the terminating NUL
        argv.pop()
    return Process(int(pid), int(fields[1]), fields[0], tuple(argv))


def process_table() -> dict[int, Process]:
    """Every process on the host that still exists while the table is read."""
    table: dict[int, Process] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := process(entry)) is not None:
            table[found.pid] = found
    return table


def descendants_of(root: int | None = None, *, include_zombies: bool = True) -> dict[int, Process]:
    """Every process below `root` (this test process by default), however deep."""
    table = process_table()
    children: dict[int, list[int]] = {}
    for pid, entry in table.items():
        children.setdefault(entry.ppid, []).append(pid)
    found: dict[int, Process] = {}
    frontier = [os.getpid() if root is None else root]
    while frontier:
        for pid in children.get(frontier.pop(), []):
            if pid not in found:
                found[pid] = table[pid]
                frontier.append(pid)
    return {pid: entry for pid, entry in found.items() if include_zombies or entry.state != "Z"}


def child_pids() -> list[int]:
    """Live or zombie processes whose parent is this test process."""
    me = os.getpid()
    return [pid for pid, entry in process_table().items() if entry.ppid == me]


def descendants(*, include_zombies: bool = True) -> dict[int, list[str]]:
    """argv of every process below this test process (the app runs servers as its children)."""
    return {pid: list(entry.argv) for pid, entry in descendants_of(include_zombies=include_zombies).items()}


def descendant_pids(marker: str = "") -> list[int]:
    """Live descendants of this test process whose command line contains `marker`."""
    return [pid for pid, entry in descendants_of().items() if entry.state != "Z" and marker in entry.cmdline]


def live_descendants() -> list[str]:
    """Command lines of the live descendants of this test process."""
    return [entry.cmdline for entry in descendants_of(include_zombies=False).values()]


def live_processes(marker: str) -> list[int]:
    """Live (not zombie) processes anywhere on the host whose command line contains `marker`.

    Not only our descendants: a daemon that escaped would have been re-parented away from us."""
    return [pid for pid, entry in process_table().items() if entry.state != "Z" and marker in entry.cmdline]


def is_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    entry = process(pid)
    return entry is not None and entry.running


@pytest.fixture(autouse=True)
def every_child_reaped() -> Iterator[None]:
    """Autouse in every module that imports it; set up before (so torn down after) the harness: closing the
    app must leave no child process behind."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux /proc to check that servers are reaped")
    assert child_pids() == [], "a previous test leaked a child process"
    yield
    assert child_pids() == [], "a server process outlived the app"
