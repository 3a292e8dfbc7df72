"""What this host can do for sandboxed servers, found at start-up, and a look from inside a real sandbox.

`probe_host` checks the programs and devices the sandbox needs (and, as root, prepares /dev/net/tun for
slirp4netns); `SandboxLauncher.self_check` then runs `SELF_CHECK_SCRIPT` in a sandbox built exactly like a
server's and `self_check_problem` reads what it saw.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import anyio

from app.runtime.process_limits import ProcessLimiter

log = logging.getLogger(__name__)

ADMIN_HINT = (
    "Admin: install bubblewrap (`apt-get install bubblewrap`, or run `make run`, which installs it), allow "
    "unprivileged user namespaces or run Plugboard as root with a writable pids cgroup, or set "
    '`local_servers.mode = "trusted"` in the policy file for a single-user install.'
)
NETWORK_HINT = (
    "Admin: install slirp4netns, nftables and iproute2 (`make run` installs them) and make sure /dev/net/tun "
    'exists; meanwhile a server can run with `"network": "none"`.'
)


@dataclass(frozen=True)
class SandboxHost:
    """What this host can do, found once at start-up by `probe`."""

    as_root: bool
    network_problem: str | None = None


# Prints what a sandbox can see of the paths given as arguments, and what it is; `self_check_problem` reads it.
# "E" lines: an entry inside a protected folder; "F": a protected file with content.
SELF_CHECK_SCRIPT = r"""
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


async def run_self_check(argv: list[str], env: dict[str, str], pass_fds: list[int]) -> tuple[int | None, str, str]:
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


def self_check_problem(code: int | None, out: str, err: str, admin_paths: tuple[str, ...]) -> str | None:
    """What the self-check script's output says is wrong (None: nothing)."""
    lines = out.splitlines()
    if code != 0 or "END" not in lines:
        detail = err.strip().splitlines()[-1:] or ["no output"]
        return f"the sandbox does not work here ({detail[0][:200]}). " + ADMIN_HINT
    seen = [line[2:] for line in lines if line.startswith(("E ", "F "))]
    # Entries that are (or lead to) an admin path are meant to be there: a venv inside the working dir.
    shown = [path for path in seen if not any(_under(a, path) or _under(path, a) for a in admin_paths)]
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


def _under(path: str, folder: str) -> bool:
    folder = folder.rstrip("/")
    return path == folder or path.startswith(folder + "/")
