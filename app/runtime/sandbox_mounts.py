"""bubblewrap argument lists: what a sandboxed server sees (mounts) and what it is (namespaces, identity).

Pure functions of their inputs so that their order, which decides what is visible, can be tested without a
sandbox. bwrap applies options left to right: a mask must come after the bind it covers.

When Plugboard runs as root the sandbox has two stages (see `docs/security.md`): an outer bwrap, run by root,
builds the file system view (root can read interpreters under folders such as /root that a server's own uid
cannot traverse); `setpriv` then becomes the owner's unprivileged uid; an inner bwrap, run by that uid, adds a
user namespace with --disable-userns, the PID and network namespaces, a fresh /proc with its dangerous parts
covered, and the seccomp filter. When Plugboard is not root, one bwrap does both jobs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

SANDBOX_HOME = "/home/plugboard"
WORKSPACE = "/workspace"  # the owner's workspace folder, the same in every server of theirs
SHARED_CACHE = "/var/cache/plugboard"  # the owner's npm and uv caches
SYSTEM_READ_ONLY = (
    "/usr",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/alternatives",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/localtime",
    "/opt",
)
# After Docker's and runc's defaults: read-only parts of /proc, and parts hidden altogether.
PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs")
PROC_HIDDEN_FILES = (
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/kallsyms",
    "/proc/kmsg",
)
PROC_HIDDEN_FOLDERS = ("/proc/acpi", "/proc/scsi", "/proc/asound", "/proc/driver")


@dataclass(frozen=True)
class Masks:
    """Host paths only the app may see: folders get an empty read-only tmpfs, files an empty file."""

    folders: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    empty_file: str = "/dev/null"


def is_under(path: str, folder: str) -> bool:
    folder = folder.rstrip("/") or "/"
    return path == folder or path.startswith(folder + "/") or folder == "/"


def _parents_to_create(path: str, bound: Iterable[str]) -> list[str]:
    """The ancestors of a bind's destination that bwrap would otherwise create with the source's modes.

    bwrap copies the mode of the source's parent (e.g. 0700 for /root) onto the folders it makes, which would
    lock the server's uid out; folders that already exist inside a bound path are left alone."""
    bound = list(bound)
    parents = []
    for parent in reversed(PurePosixPath(path).parents):
        text = str(parent)
        if text == "/" or any(is_under(text, b) for b in bound):
            continue
        parents.append(text)
    return parents


def view_arguments(
    *,
    home: str,
    read_only: tuple[str, ...],
    admin_read_only: tuple[str, ...],
    masks: Masks,
    scratch_bytes: int,
    etc_files: dict[str, str],
    proc: str,
    shared: dict[str, str] | None = None,
) -> list[str]:
    """The file system a server sees; `etc_files` maps a file under /etc to the host file shown there.
    `proc` is "bind" (outer stage: the host's /proc, covered later by the
    inner stage's own) or "new" (single stage: a fresh /proc with its dangerous parts covered)."""
    argv: list[str] = []
    bound: list[str] = []
    made: set[str] = set()

    def bind(source: str, destination: str, option: str = "--ro-bind-try") -> None:
        for parent in _parents_to_create(destination, bound):
            if parent not in made:
                argv.extend(["--perms", "0755", "--dir", parent])
                made.add(parent)
        argv.extend([option, source, destination])
        bound.append(destination)

    for link, target in (("/bin", "usr/bin"), ("/sbin", "usr/sbin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64")):
        if os.path.islink(link) or not os.path.exists(link):
            argv += ["--symlink", target, link]
        else:
            bind(link, link)
    size = str(scratch_bytes)
    if proc == "bind":
        # Device nodes bound by the privileged outer stage would be nodev; the inner stage makes /dev from these.
        argv += ["--dev-bind", "/dev", "/dev"]
    else:
        argv += dev_arguments(scratch_bytes)
    argv += ["--size", size, "--tmpfs", "/tmp"]
    # After the /tmp tmpfs, so a visible path that lives under /tmp (a checkout there) is not hidden by it.
    for path in read_only:
        bind(path, path)
    # Generated files (passwd with the server's own uid, resolv.conf pointing at the sandbox's DNS forwarder).
    for destination, source in etc_files.items():
        bind(source, destination)
    system_view = list(bound)
    argv += _mask_arguments(masks, system_view)
    for path in admin_read_only:
        bind(path, path)
    # An admin path may sit inside a masked folder (a venv inside the working dir): it is bound onto the mask.
    # The policy refuses admin paths that hold a protected one; masking them again is belt and braces.
    argv += _mask_arguments(masks, list(admin_read_only))
    # Read-only only now: binds above may have needed mount points inside the masks.
    for folder in masks.folders:
        if any(is_under(folder, root) for root in bound):
            argv += ["--remount-ro", folder]
    if proc == "bind":
        argv += ["--bind", "/proc", "/proc"]
    else:
        argv += ["--proc", "/proc", *proc_cover_arguments()]
    argv += ["--perms", "0755", "--dir", "/home"]
    argv += ["--bind", home, SANDBOX_HOME]
    # The owner's shared folders (workspace, package caches), outside the home so no mount point is made in it.
    for destination, source in (shared or {}).items():
        bind(source, destination, "--bind")
    # Last: bwrap's root is itself a tmpfs (host RAM); nothing may be written there.
    argv += ["--remount-ro", "/"]
    return argv


def _mask_arguments(masks: Masks, visible_roots: list[str]) -> list[str]:
    argv: list[str] = []
    for folder in masks.folders:
        if any(is_under(folder, root) for root in visible_roots):
            argv += ["--perms", "0755", "--tmpfs", folder]
    for file in masks.files:
        if any(is_under(file, root) for root in visible_roots) and not any(
            is_under(file, folder) for folder in masks.folders
        ):
            argv += ["--ro-bind", masks.empty_file, file]
    return argv


def dev_arguments(scratch_bytes: int) -> list[str]:
    """A minimal /dev (null, zero, random, tty, pts…) with a RAM-disk /dev/shm of `scratch_bytes`, read-only."""
    return ["--dev", "/dev", "--size", str(scratch_bytes), "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]


def proc_cover_arguments() -> list[str]:
    """Read-only binds and blanks over the parts of a fresh /proc a server has no business with."""
    argv: list[str] = []
    for path in PROC_READ_ONLY:
        if os.path.exists(path):
            argv += ["--ro-bind", path, path]
    for path in PROC_HIDDEN_FILES:
        if os.path.exists(path):
            argv += ["--ro-bind", "/dev/null", path]
    for path in PROC_HIDDEN_FOLDERS:
        if os.path.isdir(path):
            argv += ["--perms", "0555", "--tmpfs", path, "--remount-ro", path]
    return argv


def isolation_arguments(*, network: str, disable_userns: bool) -> list[str]:
    """Namespaces and privileges of the process that runs the server."""
    argv = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if disable_userns:
        # --disable-userns needs an explicit --unshare-user (--unshare-all only tries one).
        argv += ["--unshare-user", "--disable-userns"]
    if network != "host":
        argv.append("--unshare-net")
    argv += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    return argv


def setpriv_arguments(uid: int, setpriv: str = "setpriv") -> list[str]:
    """Become the owner's uid for good: no groups, no capabilities, nothing regained by exec."""
    return [
        setpriv,
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]
