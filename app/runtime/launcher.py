"""Turn an approved server record into an MCP transport: the seam where sandboxing and remote transports plug in."""

from __future__ import annotations

import os
import shutil
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mcp import StdioServerParameters
from mcp.client._transport import TransportStreams

from app.domain.local_config import DEFAULT_CHILD_PATH, LocalServerConfig
from app.domain.server import ServerRecord
from app.runtime.child_environment import child_environment
from app.runtime.exception_chain import find
from app.runtime.stderr_ring import StderrRing
from app.runtime.stdio_transport import bounded_stdio


class LaunchError(Exception):
    """The server cannot be started as configured; the message tells the owner what to fix."""


def local_config(record: ServerRecord) -> LocalServerConfig:
    if not isinstance(record.config, LocalServerConfig):
        raise LaunchError(f"`{record.name}` is not a local server")
    return record.config


class Launcher(Protocol):
    def open(self, record: ServerRecord, stderr: StderrRing) -> AbstractAsyncContextManager[TransportStreams]: ...

    def describe_failure(self, record: ServerRecord, exc: BaseException) -> str | None:
        """A message the owner can act on for a failure that retrying will not fix, else None."""
        ...

    def retry_now(self, record: ServerRecord) -> bool:
        """True when the launcher changed approach (e.g. SSE after streamable HTTP) and wants another try now."""
        ...

    def needs_authorization(self, record: ServerRecord) -> bool:
        """True when the last failure means the owner must sign in again."""
        ...

    def forget(self, record: ServerRecord) -> None:
        """The server was removed: delete what it kept on the host. Called after it stopped."""
        ...

    def notice(self, record: ServerRecord) -> str | None:
        """Something about the server on the host its owner should know (e.g. its home is full), else None."""
        ...

    def copies_can_overlap(self, record: ServerRecord) -> bool:
        """True when a second copy of this server may start while the first still runs (a hot restart)."""
        ...

    def close(self) -> None: ...


class LocalLauncherBase:
    """Local servers never switch transport nor need a sign-in."""

    def notice(self, record: ServerRecord) -> str | None:
        return None

    def retry_now(self, record: ServerRecord) -> bool:
        return False

    def needs_authorization(self, record: ServerRecord) -> bool:
        return False


class LauncherRouter:
    """Local configs go to the local launcher (sandboxed or direct), remote ones to the remote launcher."""

    def __init__(self, local: Launcher, remote: Launcher) -> None:
        self._local = local
        self._remote = remote

    def _for(self, record: ServerRecord) -> Launcher:
        return self._local if isinstance(record.config, LocalServerConfig) else self._remote

    def open(self, record: ServerRecord, stderr: StderrRing) -> AbstractAsyncContextManager[TransportStreams]:
        return self._for(record).open(record, stderr)

    def describe_failure(self, record: ServerRecord, exc: BaseException) -> str | None:
        return self._for(record).describe_failure(record, exc)

    def retry_now(self, record: ServerRecord) -> bool:
        return self._for(record).retry_now(record)

    def needs_authorization(self, record: ServerRecord) -> bool:
        return self._for(record).needs_authorization(record)

    def forget(self, record: ServerRecord) -> None:
        self._for(record).forget(record)

    def notice(self, record: ServerRecord) -> str | None:
        return self._for(record).notice(record)

    def copies_can_overlap(self, record: ServerRecord) -> bool:
        return self._for(record).copies_can_overlap(record)

    def close(self) -> None:
        self._local.close()
        self._remote.close()


@dataclass(frozen=True)
class ServerFolders:
    """Each (owner, server) gets its own private folder; names use the server id, never the user-chosen name."""

    data_dir: Path

    def home(self, record: ServerRecord) -> Path:
        return self.owner(record) / "servers" / record.id / "home"

    def owner(self, record: ServerRecord) -> Path:
        return self.data_dir / "users" / record.owner.id


class DirectLauncher(LocalLauncherBase):
    """Runs the command on the host with a cleared environment (sandboxing wraps this in a later layer)."""

    def __init__(
        self, folders: ServerFolders, child_path: str = DEFAULT_CHILD_PATH, admin_env: dict[str, str] | None = None
    ) -> None:
        self._folders = folders
        self._child_path = child_path
        self._admin_env = admin_env or {}

    def parameters(self, record: ServerRecord) -> StdioServerParameters:
        config = local_config(record)
        home = self._folders.home(record)
        (home / "tmp").mkdir(parents=True, exist_ok=True, mode=0o700)
        cwd = self._working_directory(config, home)
        env = child_environment(home=str(home), path=self._child_path, configured=config.env, admin=self._admin_env)
        return StdioServerParameters(
            command=config.command,
            args=list(config.args),
            env=env,
            cwd=str(cwd),
            encoding_error_handler="replace",
        )

    def open(self, record: ServerRecord, stderr: StderrRing) -> AbstractAsyncContextManager[TransportStreams]:
        return bounded_stdio(self.parameters(record), errlog=stderr.writer)

    def copies_can_overlap(self, record: ServerRecord) -> bool:
        return True  # plain child processes: the old copy's exit touches nothing the new one uses

    def forget(self, record: ServerRecord) -> None:
        shutil.rmtree(self._folders.home(record).parent, ignore_errors=True)

    def close(self) -> None:
        """Nothing to release: direct children are reaped by the stdio transport."""

    def describe_failure(self, record: ServerRecord, exc: BaseException) -> str | None:
        command = record.config.command if isinstance(record.config, LocalServerConfig) else record.name
        if launch := find(exc, LaunchError):
            return str(launch)
        if find(exc, FileNotFoundError):
            return f"the command `{command}` was not found on the Plugboard host (PATH is {self._child_path})"
        if find(exc, PermissionError):
            return f"the command `{command}` is not executable on the Plugboard host"
        return None

    @staticmethod
    def _working_directory(config: LocalServerConfig, home: Path) -> Path:
        cwd = config.cwd
        if cwd is None:
            return home
        if not os.path.isabs(cwd):
            # A relative folder lives inside the server's own private home; make it on first use.
            path = home / cwd
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            return path
        path = Path(cwd)
        if not path.is_dir():
            raise LaunchError(f"the working directory `{cwd}` does not exist on the Plugboard host")
        return path
