"""Local servers under bubblewrap, assuming the server is hostile and Plugboard may be root.

A server runs as an unprivileged uid of its owner's (never host root), in its own user (no nested ones), PID,
IPC, UTS and network namespaces, with no capabilities, no_new_privs and a seccomp filter; it sees a read-only
system, its private home (a quota'd file system) and nothing the app owns (data dir, working dir, settings and
key files are masked wherever they live). Its network is the public internet only, none, or (if the admin
allows) the host's. The whole tree dies with the server. How the pieces fit: `docs/security.md`.
"""

from __future__ import annotations

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

from app.domain.local_config import LocalServerConfig
from app.domain.policy import Limits, LocalServerPolicy, NetworkMode
from app.domain.server import ServerRecord
from app.runtime.child_environment import DEFAULT_CHILD_PATH, admin_paths, child_environment
from app.runtime.errors import find
from app.runtime.launcher import LaunchError, LocalLauncherBase, ServerFolders, local_config
from app.runtime.process_limits import ProcessLimiter
from app.runtime.sandbox_home import HomeError, QuotaHomes, SandboxIdentities, delete_server_folder
from app.runtime.sandbox_mounts import (
    SANDBOX_HOME,
    SYSTEM_READ_ONLY,
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
from app.runtime.stderr_ring import StderrRing
from app.runtime.stdio_transport import bounded_stdio

log = logging.getLogger(__name__)

JOIN_GROUPS = 'IFS=:; for g in $0; do echo $$ > "$g" || exit 126; done; unset IFS; exec "$@"'
ADMIN_HINT = (
    "Admin: install bubblewrap (`apt-get install bubblewrap`, or run `make run`, which installs it), allow "
    "unprivileged user namespaces or run Plugboard as root with a writable pids cgroup, or set "
    '`local_servers.mode = "trusted"` in the policy file for a single-user install.'
)
NETWORK_HINT = (
    "Admin: install slirp4netns, nftables and iproute2 (`make run` installs them) and make sure /dev/net/tun "
    'exists; meanwhile a server can run with `"network": "none"`.'
)
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


@dataclass(frozen=True)
class SandboxHost:
    """What this host can do, found once at start-up by `probe`."""

    as_root: bool
    network_problem: str | None = None


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
        self._system = tuple(dict.fromkeys((*SYSTEM_READ_ONLY, *admin_paths(spec.admin_env))))
        self._admin = tuple(spec.local.read_only_paths)
        self._generated = folders.data_dir / "sandbox"
        self._plan = NetworkPlan(spec.local.allow_networks, spec.host_addresses)
        # The very programs the start-up probe found; the server's own PATH is not used to find them.
        self._bwrap = shutil.which("bwrap") or "bwrap"
        self._prlimit = shutil.which("prlimit") or "prlimit"
        self._setpriv = shutil.which("setpriv") or "setpriv"

    def open(self, record: ServerRecord, stderr: StderrRing) -> AbstractAsyncContextManager[TransportStreams]:
        return self._session(record, stderr)

    @asynccontextmanager
    async def _session(self, record: ServerRecord, stderr: StderrRing) -> AsyncIterator[TransportStreams]:
        key = f"{record.owner.id}-{record.id}"
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
                if launch is not None and self._homes is not None:
                    await anyio.to_thread.run_sync(self._homes.unmount, launch.home)

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
        self._check_command(config.command)
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
            cwd_inside = self._cwd_inside(config.cwd, home, uid)
            argv = self._command_line(config, launch, home, cwd_inside, key)
        except BaseException:
            launch.close()
            if self._homes is not None:
                self._homes.unmount(home)
            raise
        env = child_environment(
            home=SANDBOX_HOME, path=self._spec.child_path, configured=config.env, admin=self._spec.admin_env
        )
        env["TMPDIR"] = "/tmp"
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

    def _cwd_inside(self, cwd: str | None, home: Path, uid: int | None) -> str:
        if cwd is None:
            return SANDBOX_HOME
        if not os.path.isabs(cwd):
            # The server owns its home and may have planted a symlink there: never create folders through one.
            target = (home / cwd).resolve()
            if not target.is_relative_to(home.resolve()):
                raise LaunchError(f"the working directory `{cwd}` leads outside the server's private home")
            target.mkdir(parents=True, exist_ok=True, mode=0o700)
            if uid is not None:
                folder = target
                while folder != home.resolve():
                    os.chown(folder, uid, uid, follow_symlinks=False)
                    folder = folder.parent
            return f"{SANDBOX_HOME}/{cwd}"
        if cwd == SANDBOX_HOME or cwd.startswith(SANDBOX_HOME + "/") or self._visible(cwd):
            return cwd
        raise LaunchError(
            f"the working directory `{cwd}` is not visible inside the sandbox; use a relative folder "
            "(inside the server's private home) or ask an admin to add it to the policy's read_only_paths"
        )

    def _visible(self, path: str) -> bool:
        # Admin paths are bound over the masks (a venv inside the working dir); system folders are not.
        if any(_under(path, p) for p in self._admin):
            return True
        if any(_under(path, p) for p in (*self._spec.protected_folders, *self._spec.protected_files)):
            return False
        return any(_under(path, p) for p in self._system)

    def _check_command(self, command: str) -> None:
        if "/" in command:
            for path in (os.path.abspath(command), os.path.realpath(command)):
                if not self._visible(path):
                    raise LaunchError(
                        f"`{path}` (what `{command}` runs) is not visible inside the sandbox: only system folders "
                        f"and the admin's read_only_paths are. Ask an admin to add `{os.path.dirname(path)}` (or a "
                        "folder above it) to local_servers.read_only_paths."
                    )
            if not os.access(command, os.X_OK):
                raise LaunchError(f"the command `{command}` was not found or is not executable")
            self._check_virtualenv(command)
            return
        found = shutil.which(command, path=self._spec.child_path)
        if found is None:
            raise LaunchError(
                f"the command `{command}` was not found on the Plugboard host (PATH is {self._spec.child_path})"
            )

    def _check_virtualenv(self, command: str) -> None:
        """A venv's python is a link to an interpreter whose standard library lives elsewhere (pyvenv.cfg's
        `home`): that installation must be visible too, or the server dies before it starts."""
        config = Path(os.path.abspath(command)).parent.parent / "pyvenv.cfg"
        try:
            lines = config.read_text(errors="replace").splitlines()
        except OSError:
            return
        for line in lines:
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip().startswith("/"):
                base = os.path.dirname(os.path.realpath(value.strip()))  # <prefix>/bin -> <prefix>
                if not self._visible(base):
                    raise LaunchError(
                        f"`{command}` belongs to a virtual environment whose Python installation `{base}` is not "
                        f"visible inside the sandbox. Ask an admin to add `{base}` to local_servers.read_only_paths."
                    )

    async def self_check(self) -> str | None:
        """Start a real sandbox the way a server starts and look from inside: None when it holds, else why not.

        Refuses local servers (with the admin hint) if the app's own files show, the process is root, /proc/sys
        is writable or a user namespace can be made."""
        protected = (*self._spec.protected_folders, *self._spec.protected_files)
        config = LocalServerConfig(command="/bin/sh", args=("-c", _SELF_CHECK, "self-check", *protected))
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
            code, out, err = await _run_self_check(argv, env, launch.child_fds)
        except (OSError, TimeoutError) as exc:
            return f"the sandbox could not start ({type(exc).__name__}: {exc}). " + ADMIN_HINT
        finally:
            launch.close()
            await anyio.to_thread.run_sync(self._limiter.release, key)
        lines = out.splitlines()
        if code != 0 or "END" not in lines:
            detail = err.strip().splitlines()[-1:] or ["no output"]
            return f"the sandbox does not work here ({detail[0][:200]}). " + ADMIN_HINT
        shown = [
            line[2:]
            for line in lines
            if line.startswith(("E ", "F "))
            and not any(_under(a, line[2:]) or _under(line[2:], a) for a in self._admin)
        ]
        if shown:
            return (
                f"Plugboard's own files are visible inside the sandbox ({', '.join(shown[:3])}). Admin: move the data "
                "dir and settings files out of the folders listed in read_only_paths."
            )
        if "ROOT" in lines:
            return "sandboxed servers would run as root. " + ADMIN_HINT
        if "PROCSYS" in lines:
            return "/proc/sys is writable inside the sandbox. " + ADMIN_HINT
        if "USERNS" in lines:
            return "a sandboxed server could create user namespaces. " + ADMIN_HINT
        return None

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


def _under(path: str, folder: str) -> bool:
    folder = folder.rstrip("/")
    return path == folder or path.startswith(folder + "/")


# Prints what a sandbox can see of the paths given as arguments, and what it is; `SandboxLauncher.self_check`
# reads it. "E" lines: an entry inside a protected folder; "F": a protected file with content.
_SELF_CHECK = r"""
for p in "$@"; do
  if [ -d "$p" ]; then
    for e in "$p"/* "$p"/.[!.]*; do if [ -e "$e" ]; then echo "E $e"; fi; done
  elif [ -s "$p" ]; then echo "F $p"; fi
done
if [ "$(id -u)" = 0 ]; then echo "ROOT"; fi
if [ -w /proc/sys/kernel/core_pattern ]; then echo "PROCSYS"; fi
if unshare -U true 2>/dev/null; then echo "USERNS"; fi
echo "END"
"""


async def _run_self_check(argv: list[str], env: dict[str, str], pass_fds: list[int]) -> tuple[int | None, str, str]:
    process = await anyio.open_process(argv, env=env, pass_fds=pass_fds, stdin=None)
    try:
        with anyio.fail_after(20):
            out, err = b"", b""
            async with anyio.create_task_group() as tasks:

                async def read_out() -> None:
                    nonlocal out
                    assert process.stdout is not None
                    async for chunk in process.stdout:
                        out += chunk

                async def read_err() -> None:
                    nonlocal err
                    assert process.stderr is not None
                    async for chunk in process.stderr:
                        err += chunk

                tasks.start_soon(read_out)
                tasks.start_soon(read_err)
            await process.wait()
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.aclose()
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def probe_host(as_root: bool, limiter: ProcessLimiter, tun_gid: int | None) -> tuple[str | None, SandboxHost]:
    """What this host lacks for sandboxed servers (None: nothing), and what it can do. Runs in a worker thread.

    As root it also prepares /dev/net/tun for slirp4netns: group `tun_gid`, mode 0660 (no server has that
    group)."""
    needed = ["bwrap", "prlimit"] + (["setpriv"] if as_root else [])
    if missing := [name for name in needed if shutil.which(name) is None]:
        return f"{', '.join(missing)} is not installed on the Plugboard host. " + ADMIN_HINT, SandboxHost(as_root)
    if as_root and not limiter.available:
        problem = "the process limit cannot be enforced (running as root without a writable pids cgroup). "
        return problem + ADMIN_HINT, SandboxHost(as_root)
    if not limiter.limits_memory:
        log.warning(
            "no writable memory cgroup: each server process gets memory_mb of address space, but a server that "
            "forks can use more in total (and node may need a larger memory_mb)"
        )
    return None, SandboxHost(as_root, network_problem=_network_problem(as_root, tun_gid))


def _network_problem(as_root: bool, tun_gid: int | None) -> str | None:
    search = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    if missing := [name for name in ("slirp4netns", "nft", "ip", "nsenter") if shutil.which(name, path=search) is None]:
        return f"{', '.join(missing)} is not installed. " + NETWORK_HINT
    tun = Path("/dev/net/tun")
    if not tun.exists():
        return "/dev/net/tun does not exist. " + NETWORK_HINT
    if as_root and tun_gid is not None:
        try:
            if tun.stat().st_gid != tun_gid or (tun.stat().st_mode & 0o660) != 0o660:
                os.chown(tun, -1, tun_gid)
                os.chmod(tun, 0o660)
        except OSError as exc:
            return f"/dev/net/tun cannot be prepared ({exc.strerror}). " + NETWORK_HINT
    elif not os.access(tun, os.R_OK | os.W_OK):
        return "/dev/net/tun is not usable by Plugboard's user. " + NETWORK_HINT
    return None
