"""What the test process has running below it, read from Linux /proc (to prove every server is reaped)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


def _stat_fields(pid: str) -> list[str] | None:
    try:
        stat = Path("/proc", pid, "stat").read_text()
    except OSError:
        return None
    # The fields after the parenthesised command name (which may itself contain spaces or ')'): state, ppid, …
    return stat.rsplit(")", 1)[1].split()


def child_pids() -> list[int]:
    """Live or zombie processes whose parent is this test process."""
    me = os.getpid()
    return [
        int(entry)
        for entry in os.listdir("/proc")
        if entry.isdigit() and (fields := _stat_fields(entry)) is not None and int(fields[1]) == me
    ]


def descendants(*, include_zombies: bool = True) -> dict[int, list[str]]:
    """argv of every process below this test process (the app runs servers as its children)."""
    parents: dict[int, int] = {}
    argvs: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or (fields := _stat_fields(entry)) is None:
            continue
        if fields[0] == "Z" and not include_zombies:
            continue
        try:
            argv = Path("/proc", entry, "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        argvs[int(entry)] = argv
    found: dict[int, list[str]] = {}
    frontier = [os.getpid()]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = argvs[pid]
                frontier.append(pid)
    return found


@pytest.fixture(autouse=True)
def every_child_reaped() -> Iterator[None]:
    """Autouse in every module that imports it; set up before (so torn down after) the harness: closing the
    app must leave no child process behind."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux /proc to check that servers are reaped")
    assert child_pids() == [], "a previous test leaked a child process"
    yield
    assert child_pids() == [], "a server process outlived the app"
