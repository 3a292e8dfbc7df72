"""Who a sandboxed server is on the host, and the private home it may fill, up to its quota and no further.

Identities: when Plugboard runs as root, each owner gets one uid (gid the same) from the admin's range, kept in
`data/users/<owner>/sandbox-uid`; the next free one comes from a counter under a lock. No passwd entry is needed
on the host.

Homes: each server's home is an ext4 file system in a sparse image file of `home_quota_mb`, loop-mounted
(nosuid, nodev) on the home folder while the server runs, its root owned by the server's uid. Writing past the
quota gives ENOSPC inside; the host's disk never fills. Without root no image can be mounted: the home is a
plain folder (see docs/security.md).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
from pathlib import Path

IMAGE_NAME = "home.img"
UID_FILE = "sandbox-uid"


class HomeError(Exception):
    """The server's home could not be prepared; the message says what the admin can do."""


class SandboxIdentities:
    """owner id -> the uid their servers run as (root installs only)."""

    def __init__(self, data_dir: Path, base: int, count: int, tun_gid: int) -> None:
        self._users = data_dir / "users"
        self._counter = data_dir / "sandbox" / "next-uid"
        self._base = base
        self._count = count
        self._tun_gid = tun_gid
        self._lock = threading.Lock()

    @property
    def tun_gid(self) -> int:
        """The group that may open /dev/net/tun (slirp4netns runs with it; no server ever has it)."""
        return self._tun_gid

    def uid_for(self, owner_id: str) -> int:
        path = self._users / owner_id / UID_FILE
        with self._lock:
            with contextlib.suppress(FileNotFoundError, ValueError):
                return int(path.read_text())
            self._counter.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                offset = int(self._counter.read_text())
            except (FileNotFoundError, ValueError):
                offset = 0
            if offset >= self._count:
                raise HomeError(
                    f"all {self._count} sandbox uids are in use; admin: raise local_servers.uid_count in the policy"
                )
            uid = self._base + offset
            _write_atomically(self._counter, str(offset + 1))
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _write_atomically(path, str(uid))
            return uid


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class QuotaHomes:
    """Mount and unmount the per-server home file systems (root only). Runs in worker threads."""

    def __init__(self, quota_mb: int) -> None:
        self._quota_bytes = quota_mb * 1024 * 1024
        # Each mounted home with how many running copies of its server use it (two during a hot restart).
        self._mounted: dict[Path, int] = {}
        self._lock = threading.Lock()
        self._mkfs = shutil.which("mkfs.ext4", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") or "mkfs.ext4"

    @property
    def quota_mb(self) -> int:
        return self._quota_bytes // (1024 * 1024)

    def mount(self, home: Path, uid: int, image: Path | None = None, size_mb: int | None = None) -> None:
        """Create the image on first use (sparse: it takes disk space only as the server writes), then mount it."""
        image = image or home.parent / IMAGE_NAME
        with self._lock:
            if self._mounted.get(home, 0) > 0:  # another copy of the server runs on it: share it
                self._mounted[home] += 1
                return
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.path.ismount(home):  # left mounted by a crash: reuse it
            with self._lock:
                self._mounted[home] = self._mounted.get(home, 0) + 1
            return
        if not image.exists():
            self._make_image(image, uid, (size_mb * 1024 * 1024) if size_mb else self._quota_bytes)
        _check(["mount", "-o", "loop,nosuid,nodev", str(image), str(home)], "mount the server's home")
        with self._lock:
            self._mounted[home] = self._mounted.get(home, 0) + 1
        os.chown(home, uid, uid)
        os.chmod(home, 0o700)
        with contextlib.suppress(OSError):
            (home / "lost+found").rmdir()  # mkfs's, owned by root: nothing the server needs to see

    def _make_image(self, image: Path, uid: int, size_bytes: int) -> None:
        temporary = image.with_name(image.name + ".new")
        with open(temporary, "wb") as handle:
            handle.truncate(size_bytes)
        # -m 0: no blocks reserved for root (the server is never root); no journal needed for a scratch home.
        _check(
            [self._mkfs, "-q", "-F", "-m", "0", "-O", "^has_journal", "-E", f"root_owner={uid}:{uid}", str(temporary)],
            "format the server's home",
        )
        os.replace(temporary, image)

    def unmount_all(self) -> None:
        with self._lock:
            homes = list(self._mounted)
            self._mounted.clear()
        for home in homes:
            self._unmount(home)

    def unmount(self, home: Path) -> None:
        """One copy of the server is done with its home; the last one unmounts it."""
        with self._lock:
            users = self._mounted.pop(home, 0) - 1
            if users > 0:
                self._mounted[home] = users
                return
        self._unmount(home)

    def _unmount(self, home: Path) -> None:
        if not os.path.ismount(home):
            return
        done = subprocess.run(["umount", str(home)], capture_output=True, timeout=30)
        if done.returncode != 0:
            # Still busy (a process of the server's is finishing its exit): detach now, freed when it is done.
            subprocess.run(["umount", "-l", str(home)], capture_output=True, timeout=30)

    def usage(self, home: Path) -> tuple[int, int] | None:
        """(bytes used, bytes in all) of a mounted home, else None."""
        if not os.path.ismount(home):
            return None
        stats = os.statvfs(home)
        total = stats.f_blocks * stats.f_frsize
        return total - stats.f_bavail * stats.f_frsize, total


SHARED_FOLDERS = ("workspace", "cache/npm", "cache/uv")


class OwnerShares:
    """Per owner: one file system with a workspace folder and the package caches (npm, uv) that all of the owner's
    servers share, mounted while any of them runs. Never shared between owners: a cache is code.

    Counted against its own quota (`limits.workspace_quota_mb`) when Plugboard is root; a plain folder otherwise."""

    def __init__(self, homes: QuotaHomes | None, quota_mb: int) -> None:
        self._homes = homes
        self._quota_mb = quota_mb
        self._users: dict[Path, int] = {}
        self._lock = threading.Lock()

    def acquire(self, owner_dir: Path, uid: int | None) -> Path:
        """The owner's shared folder, mounted; call `release` when the server stops."""
        shared = owner_dir / "shared"
        with self._lock:
            first = self._users.get(owner_dir, 0) == 0
            if first:
                if self._homes is not None and uid is not None:
                    self._homes.mount(shared, uid, image=owner_dir / "shared.img", size_mb=self._quota_mb)
                else:
                    shared.mkdir(parents=True, exist_ok=True, mode=0o700)
                for name in SHARED_FOLDERS:
                    _owned_folder(shared, name, uid)
                # A start killed while npx was installing leaves its lock; no server of the owner runs now.
                _remove_npx_locks(shared / "cache" / "npm")
            self._users[owner_dir] = self._users.get(owner_dir, 0) + 1
        return shared

    def release(self, owner_dir: Path) -> None:
        with self._lock:
            left = self._users.get(owner_dir, 0) - 1
            if left > 0:
                self._users[owner_dir] = left
                return
            self._users.pop(owner_dir, None)
            if self._homes is not None:
                self._homes.unmount(owner_dir / "shared")


def _owned_folder(root: Path, relative: str, uid: int | None) -> None:
    """Make root/relative, folder by folder, owned by `uid`, refusing to follow a link the servers may have
    planted (they own this file system)."""
    path = root
    for part in relative.split("/"):
        path = path / part
        try:
            if not os.path.isdir(path) or os.path.islink(path):
                if os.path.lexists(path):
                    raise HomeError(f"{path} is not a folder (a server replaced it); remove it and start again")
                path.mkdir(mode=0o700)
            if uid is not None:
                os.chown(path, uid, uid, follow_symlinks=False)
        except OSError as exc:
            raise HomeError(f"could not prepare {path}: {exc.strerror}") from None


def _remove_npx_locks(npm_cache: Path) -> None:
    npx = npm_cache / "_npx"
    if not os.path.isdir(npx) or os.path.islink(npx):
        return
    with os.scandir(npx) as entries:
        for entry in entries:
            lock = os.path.join(entry.path, "concurrency.lock")
            if entry.is_dir(follow_symlinks=False) and os.path.lexists(lock):
                if os.path.isdir(lock) and not os.path.islink(lock):
                    shutil.rmtree(lock, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(lock)


def _check(argv: list[str], what: str) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HomeError(f"could not {what}: {exc}") from None
    if done.returncode != 0:
        last = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise HomeError(f"could not {what}: {last[0][:200]}")


def delete_server_folder(folder: Path, homes: QuotaHomes | None) -> None:
    """Everything a removed server had on the host: its home (unmounted first) and its image."""
    if homes is not None:
        homes.unmount(folder / "home")
    if os.path.ismount(folder / "home"):
        raise HomeError(f"{folder / 'home'} is still mounted")
    shutil.rmtree(folder, ignore_errors=True)
