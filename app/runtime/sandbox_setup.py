"""Assemble the sandbox launcher for this host: probe what it can do, then check a real sandbox from inside.

Used by the app's wiring (`app/bootstrap.py`) and by the benchmark, so that both measure the same sandbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from app.domain.local_config import DEFAULT_CHILD_PATH
from app.domain.policy import Limits, LocalServerPolicy
from app.runtime.child_environment import admin_environment
from app.runtime.launcher import ServerFolders
from app.runtime.process_limits import ProcessLimiter
from app.runtime.sandbox import SandboxLauncher, SandboxSpec
from app.runtime.sandbox_home import QuotaHomes, SandboxIdentities
from app.runtime.sandbox_network import host_addresses
from app.runtime.sandbox_probe import probe_host
from app.runtime.seccomp_filter import SeccompUnavailable, filter_program

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandboxSetup:
    launcher: SandboxLauncher
    problem: str | None  # why local servers cannot run here, else None
    home_quota_mb: int | None  # None: no quota can be enforced (not root)


async def sandbox_launcher(
    data_dir: Path,
    local: LocalServerPolicy,
    limits: Limits,
    *,
    protected_folders: tuple[str, ...] = (),
    protected_files: tuple[str, ...] = (),
    child_path: str = DEFAULT_CHILD_PATH,
    self_check: bool = True,
) -> SandboxSetup:
    instance = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    limiter = await asyncio.to_thread(ProcessLimiter.detect, instance)
    as_root = os.geteuid() == 0
    identities = SandboxIdentities(data_dir, local.uid_base, local.uid_count, local.tun_gid) if as_root else None
    homes = QuotaHomes(limits.home_quota_mb) if as_root else None
    problem, host = await asyncio.to_thread(probe_host, as_root, limiter, local.tun_gid if as_root else None)
    try:
        seccomp: bytes | None = filter_program()
    except SeccompUnavailable as exc:
        seccomp = None
        log.warning("sandboxed servers run without a seccomp filter: %s", exc)
    spec = SandboxSpec(
        local=local,
        limits=limits,
        protected_folders=protected_folders,
        protected_files=protected_files,
        child_path=child_path,
        host_addresses=await asyncio.to_thread(host_addresses),
        seccomp_program=seccomp,
        admin_env=admin_environment(os.environ),
    )
    launcher = SandboxLauncher(ServerFolders(data_dir), spec, limiter, host, identities, homes)
    if problem is None and self_check:
        problem = await launcher.self_check()
    if problem:
        log.error("local servers are refused: %s", problem)
    elif host.network_problem:
        log.warning("sandboxed servers cannot have internet access: %s", host.network_problem)
    if homes is None:
        log.warning("Plugboard is not root: server homes have no disk quota (only the per-file size limit)")
    return SandboxSetup(launcher, problem, limits.home_quota_mb if homes is not None else None)
