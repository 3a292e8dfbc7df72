"""Local servers under bubblewrap: own PID/mount namespaces, read-only system, a private home, no capabilities,
a cleared environment and resource limits; the whole process tree dies with the server."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread
from mcp import StdioServerParameters
from mcp.client._transport import TransportStreams

from app.domain.policy import Limits
from app.domain.server import ServerRecord
from app.runtime.child_environment import DEFAULT_CHILD_PATH, child_environment
from app.runtime.errors import find
from app.runtime.launcher import LaunchError, LocalLauncherBase, ServerFolders, local_config
from app.runtime.process_limits import ProcessLimiter
from app.runtime.stderr_ring import StderrRing
from app.runtime.stdio_transport import bounded_stdio

log = logging.getLogger(__name__)

SANDBOX_HOME = "/home/plugboard"
JOIN_GROUPS = 'IFS=:; for g in $0; do echo $$ > "$g" || exit 126; done; unset IFS; exec "$@"'
SYSTEM_READ_ONLY = (
    "/usr",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/alternatives",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/localtime",
    "/opt",
)
ADMIN_HINT = (
    "Admin: install bubblewrap (`apt-get install bubblewrap`), allow unprivileged user namespaces or run "
    'Plugboard as root with a writable pids cgroup, or set `local_servers.mode = "trusted"` in the policy '
    "file for a single-user install."
)


@dataclass(frozen=True)
class SandboxSpec:
    read_only_paths: tuple[str, ...]
    limits: Limits
    child_path: str = DEFAULT_CHILD_PATH


def bwrap_arguments(
    *,
    home: Path,
    cwd_inside: str,
    read_only: tuple[str, ...],
    network: bool,
    scratch_bytes: int,
    bwrap: str = "bwrap",
) -> list[str]:
    """Everything outside the private home is read-only; /tmp and /dev/shm are RAM disks of `scratch_bytes`.

    No `--setenv`: any local user can read a command line (`ps`), so the environment, which holds the owner's
    secrets, is handed over as the process environment, built from nothing (see `child_environment`)."""
    argv = [bwrap, "--unshare-all"]
    if network:
        argv.append("--share-net")
    argv += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for link, target in (("/bin", "usr/bin"), ("/sbin", "usr/sbin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64")):
        if os.path.islink(link) or not os.path.exists(link):
            argv += ["--symlink", target, link]
        else:
            argv += ["--ro-bind", link, link]
    size = str(scratch_bytes)
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
    argv += ["--size", size, "--tmpfs", "/tmp"]
    # After the /tmp tmpfs, so a visible path that lives under /tmp (a checkout there) is not hidden by it.
    for path in read_only:
        argv += ["--ro-bind-try", path, path]
    argv += ["--bind", str(home), SANDBOX_HOME]
    # Last: bwrap's root is itself a tmpfs (host RAM); nothing may be written there.
    argv += ["--remount-ro", "/", "--chdir", cwd_inside]
    return argv


# With the whole tree's RAM capped by a memory cgroup, the per-process address space only has to stop the absurd:
# runtimes such as V8 (node) reserve several GiB of address space they never use and die under a tight RLIMIT_AS.
ADDRESS_SPACE_HEADROOM = 4


def prlimit_arguments(limits: Limits, prlimit: str = "prlimit", *, ram_capped: bool = False) -> list[str]:
    """`ram_capped`: a memory cgroup bounds the whole tree's RAM, so the address space may be larger."""
    mib = 1024 * 1024
    address_space = limits.memory_mb * (ADDRESS_SPACE_HEADROOM if ram_capped else 1)
    return [
        prlimit,
        f"--as={address_space * mib}",
        f"--fsize={limits.file_size_mb * mib}",
        f"--nofile={limits.open_files}",
        f"--nproc={limits.processes}",
        "--core=0",
        "--",
    ]


class SandboxLauncher(LocalLauncherBase):
    def __init__(self, folders: ServerFolders, spec: SandboxSpec, limiter: ProcessLimiter) -> None:
        self._folders = folders
        self._spec = spec
        self._limiter = limiter
        self._read_only = tuple(dict.fromkeys(SYSTEM_READ_ONLY + spec.read_only_paths))
        # The very programs the start-up probe found; the server's own PATH is not used to find them.
        self._bwrap = shutil.which("bwrap") or "bwrap"
        self._prlimit = shutil.which("prlimit") or "prlimit"

    def open(self, record: ServerRecord, stderr: StderrRing) -> AbstractAsyncContextManager[TransportStreams]:
        return self._session(record, stderr)

    @asynccontextmanager
    async def _session(self, record: ServerRecord, stderr: StderrRing) -> AsyncIterator[TransportStreams]:
        key = f"{record.owner.id}-{record.id}"
        params = await asyncio.to_thread(self._parameters, record, key)
        try:
            async with bounded_stdio(params, errlog=stderr.writer) as streams:
                yield streams
        finally:
            # Runs while the session is being cancelled: shield it, or the group is never cleaned up.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._limiter.release, key)

    def _parameters(self, record: ServerRecord, key: str) -> StdioServerParameters:
        config = local_config(record)
        home = self._folders.home(record)
        (home / "tmp").mkdir(parents=True, exist_ok=True, mode=0o700)
        cwd_inside = self._cwd_inside(config.cwd, home)
        self._check_command(config.command)
        env = child_environment(home=SANDBOX_HOME, path=self._spec.child_path, configured=config.env)
        env["TMPDIR"] = "/tmp"
        limits = self._spec.limits
        groups = self._limiter.prepare(key, limits.processes, limits.memory_mb * 1024 * 1024)
        inner = [
            *prlimit_arguments(limits, self._prlimit, ram_capped=self._limiter.limits_memory),
            *bwrap_arguments(
                home=home,
                cwd_inside=cwd_inside,
                read_only=self._read_only,
                network=not config.offline,
                scratch_bytes=limits.file_size_mb * 1024 * 1024,
                bwrap=self._bwrap,
            ),
            "--",
            config.command,
            *config.args,
        ]
        if not groups:
            command, args = inner[0], inner[1:]
        else:
            # Join the server's cgroups first, then become prlimit -> bwrap; "$0" lists the cgroup.procs files.
            command, args = "/bin/sh", ["-c", JOIN_GROUPS, ":".join(map(str, groups)), *inner]
        # The same environment for the wrappers (sh, prlimit, bwrap ignore it) and the server inside.
        return StdioServerParameters(
            command=command, args=args, env=env, cwd=str(home), encoding_error_handler="replace"
        )

    def _cwd_inside(self, cwd: str | None, home: Path) -> str:
        if cwd is None:
            return SANDBOX_HOME
        if not os.path.isabs(cwd):
            # The server owns its home and may have planted a symlink there: never create folders through one.
            target = (home / cwd).resolve()
            if not target.is_relative_to(home.resolve()):
                raise LaunchError(f"the working directory `{cwd}` leads outside the server's private home")
            target.mkdir(parents=True, exist_ok=True, mode=0o700)
            return f"{SANDBOX_HOME}/{cwd}"
        if cwd == SANDBOX_HOME or cwd.startswith(SANDBOX_HOME + "/") or self._visible(cwd):
            return cwd
        raise LaunchError(
            f"the working directory `{cwd}` is not visible inside the sandbox; use a relative folder "
            "(inside the server's private home) or ask an admin to add it to the policy's read_only_paths"
        )

    def _visible(self, path: str) -> bool:
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self._read_only)

    def _check_command(self, command: str) -> None:
        if "/" in command:
            if not self._visible(os.path.realpath(command)) and not self._visible(command):
                raise LaunchError(
                    f"`{command}` is not visible inside the sandbox (only system folders and the admin's "
                    "read_only_paths are); ask an admin to add its folder to read_only_paths"
                )
            if not os.access(command, os.X_OK):
                raise LaunchError(f"the command `{command}` was not found or is not executable")
            return
        if shutil.which(command, path=self._spec.child_path) is None:
            raise LaunchError(
                f"the command `{command}` was not found on the Plugboard host (PATH is {self._spec.child_path})"
            )

    def close(self) -> None:
        self._limiter.remove_instance()

    def describe_failure(self, record: ServerRecord, exc: BaseException) -> str | None:
        if launch := find(exc, LaunchError):
            return str(launch)
        if find(exc, FileNotFoundError):
            return "bubblewrap is not installed on the Plugboard host. " + ADMIN_HINT
        return None


async def probe_sandbox(limiter: ProcessLimiter) -> str | None:
    """None when sandboxed servers can run here, else why not (shown to users and admins)."""
    if shutil.which("bwrap") is None or shutil.which("prlimit") is None:
        return "bubblewrap (bwrap) or prlimit is not installed on the Plugboard host. " + ADMIN_HINT
    if os.geteuid() == 0 and not limiter.available:
        return "the process limit cannot be enforced (running as root without a writable pids cgroup). " + ADMIN_HINT
    if not limiter.limits_memory:
        log.warning(
            "no writable memory cgroup: each server process gets memory_mb of address space, but a server that "
            "forks can use more in total (and node may need a larger memory_mb)"
        )
    argv = [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--cap-drop",
        "ALL",
        "--clearenv",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--",
        "/bin/true",
    ]
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), timeout=10)
    except (OSError, TimeoutError) as exc:
        return f"the sandbox could not start ({type(exc).__name__}). " + ADMIN_HINT
    if process.returncode != 0:
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return f"the sandbox does not work here ({detail[0][:200]}). " + ADMIN_HINT
    return None
