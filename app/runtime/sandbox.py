"""Local servers under bubblewrap, assuming the server is hostile and Plugboard may be root.

A server runs as an unprivileged uid of its owner's (never host root), in its own user (no nested ones), PID,
IPC, UTS and network namespaces, with no capabilities, no_new_privs and a seccomp filter; it sees a read-only
system, its private home (a quota'd file system) and nothing the app owns (data dir, working dir, settings and
key files are masked wherever they live). Its network is the public internet only, none, or (if the admin
allows) the host's. The whole tree dies with the server. How the pieces fit: `docs/security.md`.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread
from mcp import StdioServerParameters
from mcp.client._transport import TransportStreams

from app.domain.local_config import DEFAULT_CHILD_PATH, LocalServerConfig
from app.domain.policy import Limits, LocalServerPolicy, NetworkMode
from app.domain.server import ServerRecord
from app.runtime.child_environment import admin_paths, child_environment
from app.runtime.exception_chain import find
from app.runtime.launcher import LaunchError, LocalLauncherBase, ServerFolders, local_config
from app.runtime.process_limits import ProcessLimiter
from app.runtime.sandbox_home import HomeError, OwnerShares, QuotaHomes, SandboxIdentities, delete_server_folder
from app.runtime.sandbox_mounts import (
    SANDBOX_HOME,
    SHARED_CACHE,
    SYSTEM_READ_ONLY,
    WORKSPACE,
    Masks,
    dev_arguments,
    isolation_arguments,
    proc_cover_arguments,
    setpriv_arguments,
    view_arguments,
)
from app.runtime.sandbox_network import (
    RESOLV_CONF,
    SETUP_SECONDS,
    AttachedNetwork,
    NetworkPlan,
    NetworkSetupError,
    attach,
    read_child_pid,
)
from app.runtime.sandbox_paths import SandboxPaths
from app.runtime.sandbox_probe import (
    ADMIN_HINT,
    NETWORK_HINT,
    SELF_CHECK_SCRIPT,
    SandboxHost,
    run_self_check,
    self_check_problem,
)
from app.runtime.stderr_ring import StderrRing
from app.runtime.stdio_transport import bounded_stdio

log = logging.getLogger(__name__)

JOIN_GROUPS = 'IFS=:; for g in $0; do echo $$ > "$g" || exit 126; done; unset IFS; exec "$@"'
# With the whole tree's RAM capped by a memory cgroup, the per-process address space only has to stop the absurd:
# runtimes such as V8 (node) reserve several GiB of address space they never use and die under a tight RLIMIT_AS.
ADDRESS_SPACE_HEADROOM = 4


class _SandboxEnded(Exception):
    """The sandbox's processes were gone before the server was let go."""


@dataclass(frozen=True)
class SandboxSpec:
    local: LocalServerPolicy
    limits: Limits
    # Host paths only the app may see: data dir, working dir, settings files, key file (resolved, absolute).
    protected_folders: tuple[str, ...] = ()
    protected_files: tuple[str, ...] = ()
    child_path: str = DEFAULT_CHILD_PATH
    host_addresses: tuple[str, ...] = ()
    seccomp_program: bytes | None = None
    # The host's certificate and proxy settings, passed to every server (see child_environment).
    admin_env: dict[str, str] = field(default_factory=dict)


def prlimit_arguments(
    limits: Limits, prlimit: str = "prlimit", *, ram_capped: bool = False, owners_uid: bool = False
) -> list[str]:
    """`ram_capped`: a memory cgroup bounds the whole tree's RAM, so the address space may be larger.
    `owners_uid`: the uid is shared by the owner's live servers, so RLIMIT_NPROC counts all of them (each server's
    own cap is its pids cgroup)."""
    mib = 1024 * 1024
    address_space = limits.memory_mb * (ADDRESS_SPACE_HEADROOM if ram_capped else 1)
    processes = limits.processes * (limits.live_servers_per_owner if owners_uid else 1)
    return [
        prlimit,
        f"--as={address_space * mib}",
        f"--fsize={limits.file_size_mb * mib}",
        f"--nofile={limits.open_files}",
        f"--nproc={processes}",
        "--core=0",
        "--",
    ]


def effective_network(config: LocalServerConfig, policy: LocalServerPolicy) -> NetworkMode:
    return config.network_or(policy.network)


@dataclass
class _Launch:
    """One start's command line and the pipe ends that go with it."""

    params: StdioServerParameters
    home: Path
    network: NetworkMode
    uid: int | None
    shared: Path | None = None  # the owner's shared folders, held while this server runs
    child_fds: list[int] = field(default_factory=list)  # passed to the child, closed here once it runs
    info_read: int | None = None
    block_write: int | None = None
    # Set from the worker thread as soon as slirp4netns runs, so a cancelled start still stops it.
    attached: AttachedNetwork | None = None

    def close_child_fds(self) -> None:
        for fd in self.child_fds:
            with suppress(OSError):
                os.close(fd)
        self.child_fds.clear()

    def close(self) -> None:
        self.close_child_fds()
        for fd in (self.info_read, self.block_write):
            if fd is not None:
                with suppress(OSError):
                    os.close(fd)
        self.info_read = self.block_write = None


class SandboxLauncher(LocalLauncherBase):
    def __init__(
        self,
        folders: ServerFolders,
        spec: SandboxSpec,
        limiter: ProcessLimiter,
        host: SandboxHost,
        identities: SandboxIdentities | None = None,
        homes: QuotaHomes | None = None,
    ) -> None:
        self._folders = folders
        self._spec = spec
        self._limiter = limiter
        self._host = host
        self._identities = identities
        self._homes = homes
        self._shares = OwnerShares(homes, spec.limits.workspace_quota_mb)
        self._system = tuple(dict.fromkeys((*SYSTEM_READ_ONLY, *admin_paths(spec.admin_env))))
        self._admin = tuple(spec.local.read_only_paths)
        self._paths = SandboxPaths(
            self._system, self._admin, spec.protected_folders, spec.protected_files, spec.child_path
        )
        self._generated = folders.data_dir / "sandbox"
        self._plan = NetworkPlan(spec.local.allow_networks, spec.host_addresses)
        # The very programs the start-up probe found; the server's own PATH is not used to find them.
        self._bwrap = shutil.which("bwrap") or "bwrap"
        self._prlimit = shutil.which("prlimit") or "prlimit"
        self._setpriv = shutil.which("setpriv") or "setpriv"
        # Each copy of a server gets cgroups of its own, so a hot restart's old copy never kills the new one.
        self._copies = itertools.count(1)

    def open(self, record: ServerRecord, stderr: StderrRing) -> AbstractAsyncContextManager[TransportStreams]:
        return self._session(record, stderr)

    def copies_can_overlap(self, record: ServerRecord) -> bool:
        return True  # cgroups per copy; the home mount and the owner's shared folder are reference-counted

    @asynccontextmanager
    async def _session(self, record: ServerRecord, stderr: StderrRing) -> AsyncIterator[TransportStreams]:
        key = f"{record.owner.id}-{record.id}-{next(self._copies)}"
        launch: _Launch | None = None
        try:
            launch = await anyio.to_thread.run_sync(self._prepare, record, key)
            async with bounded_stdio(launch.params, errlog=stderr.writer, pass_fds=launch.child_fds) as streams:
                launch.close_child_fds()
                if launch.network == "internet":
                    try:
                        await anyio.to_thread.run_sync(self._connect, launch)
                    except _SandboxEnded:
                        # Its last words are still on their way through the stderr pipe: give them a moment.
                        with anyio.move_on_after(2):
                            while not stderr.at_end:  # noqa: ASYNC110  # the ring has no event for it
                                await anyio.sleep(0.01)
                        said = stderr.text().strip().splitlines()[-1:] or ["nothing on stderr"]
                        raise LaunchError(
                            f"the sandbox stopped before the server could start: {said[0][:300]}"
                        ) from None
                yield streams
        finally:
            # Runs while the session is being cancelled: shield it, or nothing is cleaned up.
            with anyio.CancelScope(shield=True):
                if launch is not None:
                    launch.close()
                    if launch.attached is not None:
                        await anyio.to_thread.run_sync(launch.attached.close)
                await anyio.to_thread.run_sync(self._limiter.release, key)
                if launch is not None:
                    await anyio.to_thread.run_sync(self._release_folders, launch)

    def _release_folders(self, launch: _Launch) -> None:
        if self._homes is not None:
            self._homes.unmount(launch.home)
        if launch.shared is not None:
            self._shares.release(launch.shared.parent)
            launch.shared = None

    def _connect(self, launch: _Launch) -> None:
        assert launch.info_read is not None and launch.block_write is not None
        deadline = time.monotonic() + SETUP_SECONDS
        try:
            child = read_child_pid(launch.info_read, deadline)
            tun_gid = self._identities.tun_gid if self._identities is not None else None
            launch.attached = attach(child, self._plan, uid=launch.uid, tun_gid=tun_gid, deadline=deadline)
        except (NetworkSetupError, OSError) as exc:
            raise LaunchError(f"the sandbox's network could not be set up ({exc}). {NETWORK_HINT}") from None
        try:
            os.write(launch.block_write, b"1")  # let the server run
        except BrokenPipeError:
            raise _SandboxEnded from None

    def _prepare(self, record: ServerRecord, key: str) -> _Launch:
        config = local_config(record)
        network = effective_network(config, self._spec.local)
        if network == "host" and not self._spec.local.allow_host_network:
            raise LaunchError(
                '`"network": "host"` is not allowed by this Plugboard\'s policy; use "internet" or "none"'
            )
        if network == "internet" and self._host.network_problem:
            raise LaunchError(
                f"internet access for sandboxed servers is not available here: {self._host.network_problem}"
            )
        self._paths.check_command(config.command)
        uid = self._identities.uid_for(record.owner.id) if self._identities is not None else None
        home = self._folders.home(record)
        try:
            if self._homes is not None and uid is not None:
                self._homes.mount(home, uid)
            else:
                home.mkdir(parents=True, exist_ok=True, mode=0o700)
        except HomeError as exc:
            raise LaunchError(f"{exc}. Admin: check that loop devices and mkfs.ext4 are available.") from None
        launch = _Launch(params=StdioServerParameters(command="/bin/true"), home=home, network=network, uid=uid)
        try:
            launch.shared = self._shares.acquire(self._folders.owner(record), uid)
            cwd_inside = self._paths.cwd_inside(config.cwd, home, uid)
            argv = self._command_line(config, launch, home, cwd_inside, key)
        except BaseException as exc:
            launch.close()
            self._release_folders(launch)
            if isinstance(exc, HomeError):
                raise LaunchError(f"{exc}. Admin: check that loop devices and mkfs.ext4 are available.") from None
            raise
        env = child_environment(
            home=SANDBOX_HOME, path=self._spec.child_path, configured=config.env, admin=self._spec.admin_env
        )
        env["TMPDIR"] = "/tmp"
        # One cache per owner, shared by their servers: a second npx/uvx server starts from it.
        env["npm_config_cache"] = f"{SHARED_CACHE}/npm"
        env["UV_CACHE_DIR"] = f"{SHARED_CACHE}/uv"
        # The same environment for the wrappers (sh, prlimit, bwrap, setpriv ignore it) and the server inside.
        launch.params = StdioServerParameters(
            command=argv[0], args=argv[1:], env=env, cwd="/", encoding_error_handler="replace"
        )
        return launch

    def _command_line(self, config: LocalServerConfig, launch: _Launch, home: Path, cwd: str, key: str) -> list[str]:
        limits = self._spec.limits
        as_root = launch.uid is not None
        masks = Masks(
            folders=self._spec.protected_folders,
            files=self._spec.protected_files,
            empty_file=str(self._generated_file("empty", "")),
        )
        etc = {"/etc/passwd": self._passwd(launch.uid), "/etc/group": self._group(launch.uid)}
        if launch.network == "internet":
            etc["/etc/resolv.conf"] = str(self._generated_file("resolv.conf", RESOLV_CONF))
        elif os.path.exists("/etc/resolv.conf"):
            etc["/etc/resolv.conf"] = "/etc/resolv.conf"
        view = view_arguments(
            home=str(home),
            read_only=self._system,
            admin_read_only=self._admin,
            masks=masks,
            scratch_bytes=limits.file_size_mb * 1024 * 1024,
            etc_files=etc,
            proc="bind" if as_root else "new",
            shared=self._shared_binds(launch),
        )
        inner = [self._bwrap, *isolation_arguments(network=launch.network, disable_userns=True)]
        if as_root:
            scratch = limits.file_size_mb * 1024 * 1024
            inner += ["--bind", "/", "/", *dev_arguments(scratch), "--proc", "/proc", *proc_cover_arguments()]
        if self._spec.seccomp_program is not None:
            inner += ["--seccomp", str(self._pipe_with(launch, self._spec.seccomp_program))]
        if launch.network == "internet":
            info_read, info_write = os.pipe()
            block_read, block_write = os.pipe()
            launch.info_read, launch.block_write = info_read, block_write
            launch.child_fds += [info_write, block_read]
            inner += ["--info-fd", str(info_write), "--block-fd", str(block_read)]
        inner += ["--chdir", cwd, "--", config.command, *config.args]
        if as_root:
            assert launch.uid is not None
            outer = [self._bwrap, "--die-with-parent", *view, "--chdir", "/", "--"]
            sandbox = [*outer, *setpriv_arguments(launch.uid, self._setpriv), *inner]
        else:
            sandbox = [inner[0], *view, *inner[1:]]
        ram_capped = self._limiter.limits_memory
        wrapped = [*prlimit_arguments(limits, self._prlimit, ram_capped=ram_capped, owners_uid=as_root), *sandbox]
        groups = self._limiter.prepare(key, limits.processes, limits.memory_mb * 1024 * 1024)
        if not groups:
            return wrapped
        # Join the server's cgroups first, then become prlimit -> bwrap; "$0" lists the cgroup.procs files.
        return ["/bin/sh", "-c", JOIN_GROUPS, ":".join(map(str, groups)), *wrapped]

    @staticmethod
    def _shared_binds(launch: _Launch) -> dict[str, str]:
        if launch.shared is None:
            return {}
        return {WORKSPACE: str(launch.shared / "workspace"), SHARED_CACHE: str(launch.shared / "cache")}

    @staticmethod
    def _pipe_with(launch: _Launch, data: bytes) -> int:
        """A pipe holding `data` (bwrap reads its --seccomp fd to the end); returns the read end for the child."""
        read, write = os.pipe()
        try:
            os.write(write, data)  # well under a pipe's buffer
        finally:
            os.close(write)
        launch.child_fds.append(read)
        return read

    def _generated_file(self, name: str, text: str) -> Path:
        path = self._generated / name
        if not path.exists() or path.read_text() != text:
            self._generated.mkdir(parents=True, exist_ok=True, mode=0o711)
            # A name of its own per writer: two servers starting at once may both write it.
            temporary = path.with_name(f"{name}.{os.getpid()}.{threading.get_ident()}.tmp")
            temporary.write_text(text)
            temporary.chmod(0o644)
            os.replace(temporary, path)
        return path

    def _passwd(self, uid: int | None) -> str:
        uid = os.getuid() if uid is None else uid
        gid = os.getgid() if uid == os.getuid() else uid
        text = (
            "root:x:0:0:root:/root:/usr/sbin/nologin\n"
            f"plugboard:x:{uid}:{gid}:Plugboard server:{SANDBOX_HOME}:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        )
        return str(self._generated_file(f"passwd-{uid}", text))

    def _group(self, uid: int | None) -> str:
        gid = os.getgid() if uid is None else uid
        text = f"root:x:0:\nplugboard:x:{gid}:\nnogroup:x:65534:\n"
        return str(self._generated_file(f"group-{gid}", text))

    def hidden_paths(self, config: LocalServerConfig) -> tuple[str, ...]:
        return self._paths.hidden_paths(config)

    def command_problem(self, config: LocalServerConfig) -> str | None:
        """Why the command would not start in the sandbox (not found, not visible, a venv's Python hidden), said
        on the review card before the owner confirms; None when it can start."""
        try:
            self._paths.check_command(config.command)
        except LaunchError as exc:
            return str(exc)
        return None

    async def self_check(self) -> str | None:
        """Start a real sandbox the way a server starts and look from inside: None when it holds, else why not.

        Refuses local servers (with the admin hint) if the app's own files show, the process is root, /proc/sys
        is writable or a user namespace can be made."""
        protected = (*self._spec.protected_folders, *self._spec.protected_files)
        config = LocalServerConfig(command="/bin/sh", args=("-c", SELF_CHECK_SCRIPT, "self-check", *protected))
        uid = self._identities.uid_for("plugboard-self-check") if self._identities is not None else None
        home = self._generated / "self-check-home"
        await anyio.to_thread.run_sync(lambda: home.mkdir(parents=True, exist_ok=True, mode=0o700))
        if uid is not None:
            os.chown(home, uid, uid)
        launch = _Launch(params=StdioServerParameters(command="/bin/true"), home=home, network="none", uid=uid)
        key = "self-check"
        try:
            argv = await anyio.to_thread.run_sync(lambda: self._command_line(config, launch, home, SANDBOX_HOME, key))
            env = child_environment(home=SANDBOX_HOME, path=self._spec.child_path, configured={})
            code, out, err = await run_self_check(argv, env, launch.child_fds)
        except (OSError, TimeoutError) as exc:
            return f"the sandbox could not start ({type(exc).__name__}: {exc}). " + ADMIN_HINT
        finally:
            launch.close()
            await anyio.to_thread.run_sync(self._limiter.release, key)
        return self_check_problem(code, out, err, self._admin)

    def notice(self, record: ServerRecord) -> str | None:
        if self._homes is None:
            return None
        usage = self._homes.usage(self._folders.home(record))
        if usage is None:
            return None
        used, total = usage
        if total - used > max(total // 100, 1024 * 1024):
            return None
        mib = 1024 * 1024
        return (
            f"`{record.name}`'s private home is full ({used // mib} of {total // mib} MiB): it cannot save more. "
            "Free space through the server's own tools, remove and re-add it to start empty, or ask your "
            "Plugboard admin for a larger `limits.home_quota_mb`."
        )

    def forget(self, record: ServerRecord) -> None:
        """Everything the server had on the host (its home and its image); runs after it stopped."""
        delete_server_folder(self._folders.home(record).parent, self._homes)

    def close(self) -> None:
        if self._homes is not None:
            self._homes.unmount_all()  # homes of servers whose stop did not get that far
        self._limiter.remove_instance()

    def describe_failure(self, record: ServerRecord, exc: BaseException) -> str | None:
        if launch := find(exc, LaunchError):
            return str(launch)
        if find(exc, FileNotFoundError):
            return "bubblewrap is not installed on the Plugboard host. " + ADMIN_HINT
        return None
