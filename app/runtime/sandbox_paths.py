"""What exists inside a sandbox, seen from the host: which paths a server can reach, and the checks that tell
its owner before a start fails (a command, interpreter, working directory or folder argument it cannot see)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from app.domain.local_config import LocalServerConfig
from app.runtime.launcher import LaunchError
from app.runtime.sandbox_mounts import SANDBOX_HOME, WORKSPACE


class SandboxPaths:
    def __init__(
        self,
        system: tuple[str, ...],
        admin: tuple[str, ...],
        protected_folders: tuple[str, ...],
        protected_files: tuple[str, ...],
        child_path: str,
    ) -> None:
        self._system = system
        self._admin = admin
        self._protected_folders = protected_folders
        self._protected_files = protected_files
        self._child_path = child_path

    def cwd_inside(self, cwd: str | None, home: Path, uid: int | None) -> str:
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
        if _under(cwd, SANDBOX_HOME) or _under(cwd, WORKSPACE) or self.visible(cwd):
            return cwd
        raise LaunchError(
            f"the working directory `{cwd}` is not visible inside the sandbox; use `{WORKSPACE}` (your workspace "
            "folder), a relative folder (inside the server's private home), or ask an admin to add it to the "
            "policy's read_only_paths"
        )

    def visible(self, path: str) -> bool:
        # Admin paths are bound over the masks (a venv inside the working dir); system folders are not.
        if any(_under(path, p) for p in self._admin):
            return True
        if any(_under(path, p) for p in (*self._protected_folders, *self._protected_files)):
            return False
        return any(_under(path, p) for p in self._system)

    def check_command(self, command: str) -> None:
        if "/" in command:
            for path in (os.path.abspath(command), os.path.realpath(command)):
                if not self.visible(path):
                    raise LaunchError(
                        f"`{path}` (what `{command}` runs) is not visible inside the sandbox: only system folders "
                        f"and the admin's read_only_paths are. Ask an admin to add `{os.path.dirname(path)}` (or a "
                        "folder above it) to local_servers.read_only_paths."
                    )
            if not os.access(command, os.X_OK):
                raise LaunchError(f"the command `{command}` was not found or is not executable")
            self._check_virtualenv(command)
            return
        found = shutil.which(command, path=self._child_path)
        if found is None:
            raise LaunchError(
                f"the command `{command}` was not found on the Plugboard host (PATH is {self._child_path})"
            )

    def hidden_paths(self, config: LocalServerConfig) -> tuple[str, ...]:
        """Absolute paths among the arguments (also `--flag=/path`) that do not exist inside the sandbox: a folder
        from a README (`/Users/me/Desktop`) that the server would not find."""
        hidden = []
        for arg in config.args:
            path = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
            if not path.startswith("/") or "\n" in path:
                continue
            inside = (SANDBOX_HOME, WORKSPACE, "/tmp", "/dev", "/proc", "/etc")
            if not any(_under(path, place) for place in inside) and not self.visible(os.path.normpath(path)):
                hidden.append(path)
        return tuple(dict.fromkeys(hidden))

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
                if not self.visible(base):
                    raise LaunchError(
                        f"`{command}` belongs to a virtual environment whose Python installation `{base}` is not "
                        f"visible inside the sandbox. Ask an admin to add `{base}` to local_servers.read_only_paths."
                    )


def _under(path: str, folder: str) -> bool:
    folder = folder.rstrip("/")
    return path == folder or path.startswith(folder + "/")
