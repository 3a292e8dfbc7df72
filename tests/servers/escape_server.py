"""A hostile MCP server that tries to escape its sandbox: ``escape_server.py``.

Every tool reports what happened as text instead of raising, so a test can assert on the outcome:
- ``read_file{path}`` -> the file's first 4000 characters, or ``"error: <ExceptionName>: <message>"``
- ``write_file{path, text}`` -> ``"wrote <n> bytes"`` or ``"error: ..."`` (its name is on the default denylist)
- ``symlink{target, path}`` -> ``"linked"`` or ``"error: ..."``
- ``env{}`` -> ``json.dumps(dict(os.environ))``
- ``whoami{}`` -> JSON ``{"pid", "uid", "home", "cwd"}``
- ``raise_limits{}`` -> JSON of each resource limit -> ``"raised"`` or ``"error: ..."`` after trying to lift it
- ``spawn_daemon{}`` -> double-forks a ``setsid`` daemon that writes its pid to ``$HOME/daemon.pid`` and runs
  forever; returns the daemon's token, which is also in its command line (``--daemon <token>``)
- ``fork_bomb{}`` -> a child that forks blocked children until ``fork`` fails (or 2000 succeed) and keeps them
  all alive; returns ``"forked <n> then <reason>"``
- ``allocate{mb}`` -> allocates and touches memory in 1 MiB pieces, keeping it; returns
  ``"allocated <n> MiB"`` or ``"MemoryError after <n> MiB"`` (a few MiB are released so the server can answer)
- ``connect{host, port}`` -> ``"connected"`` or ``"error: ..."`` (a plain TCP connect, 3 s timeout)
- ``allocate_in_children{children, mb}`` -> forks children that each allocate ``mb`` MiB and keep it; returns
  ``"<n> held, <n> MemoryError, <n> killed"``
- ``big_file{mb}`` -> writes ``$HOME/big.bin`` in 1 MiB pieces; returns ``"wrote <n> MiB"`` or
  ``"stopped after <n> MiB: <ExceptionName>: <message>"``
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import sys
import uuid

from mcp.server import MCPServer

MIB = 1024 * 1024
MAX_FORKS = 2000
server = MCPServer("escape-server", version="1.0.0")
_held: list[bytearray] = []


def _error(exc: BaseException) -> str:
    return f"error: {type(exc).__name__}: {exc}"


@server.tool(structured_output=False)
def read_file(path: str) -> str:
    """Return the first 4000 characters of the file at `path`."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(4000)
    except OSError as exc:
        return _error(exc)


@server.tool(structured_output=False)
def write_file(path: str, text: str = "escaped") -> str:
    """Write `text` to the file at `path`."""
    try:
        with open(path, "w", encoding="utf-8") as handle:
            written = handle.write(text)
        return f"wrote {written} bytes"
    except OSError as exc:
        return _error(exc)


@server.tool(structured_output=False)
def symlink(target: str, path: str) -> str:
    """Create a symbolic link at `path` pointing to `target`."""
    try:
        os.symlink(target, path)
        return "linked"
    except OSError as exc:
        return _error(exc)


@server.tool(structured_output=False)
def env() -> str:
    """Return this process's environment as a JSON object."""
    return json.dumps(dict(os.environ), sort_keys=True)


@server.tool(structured_output=False)
def whoami() -> str:
    """Return pid, uid, $HOME and cwd as JSON."""
    return json.dumps({"pid": os.getpid(), "uid": os.getuid(), "home": os.environ.get("HOME"), "cwd": os.getcwd()})


def _daemon(token: str) -> None:
    home = os.environ.get("HOME", "/tmp")
    with open(os.path.join(home, "daemon.pid"), "w") as handle:
        handle.write(f"{os.getpid()} {token}")
    while True:
        signal.pause()


@server.tool(structured_output=False)
def raise_limits() -> str:
    """Try to lift every resource limit to unlimited; JSON of limit name -> "raised" or the error."""
    outcome = {}
    for name in ("RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE"):
        which = getattr(resource, name)
        try:
            resource.setrlimit(which, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            outcome[name] = "raised"
        except (OSError, ValueError) as exc:
            outcome[name] = _error(exc)
    return json.dumps(outcome)


@server.tool(structured_output=False)
def spawn_daemon() -> str:
    """Leave a daemon behind: fork, setsid, fork again, and exec a process that never exits."""
    token = uuid.uuid4().hex
    first = os.fork()
    if first == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.execv(sys.executable, [sys.executable, os.path.abspath(__file__), "--daemon", token])
        finally:
            os._exit(0)
    os.waitpid(first, 0)
    return token


@server.tool(structured_output=False)
def fork_bomb() -> str:
    """Fork as many processes as the system allows and keep them all alive."""
    read_end, write_end = os.pipe()
    bomb = os.fork()
    if bomb == 0:
        os.close(read_end)
        count, reason = 0, "reached the test's own cap"
        try:
            while count < MAX_FORKS:
                if os.fork() == 0:
                    os.close(write_end)
                    while True:
                        signal.pause()
                count += 1
        except OSError as exc:
            reason = f"{type(exc).__name__}: {exc}"
        os.write(write_end, f"forked {count} then {reason}".encode())
        os.close(write_end)
        while True:
            signal.pause()
    os.close(write_end)
    try:
        return os.read(read_end, 1000).decode()
    finally:
        os.close(read_end)


@server.tool(structured_output=False)
def allocate(mb: int) -> str:
    """Allocate (and touch) `mb` MiB of memory and keep it."""
    got = 0
    try:
        for _ in range(mb):
            _held.append(bytearray(b"\x01") * MIB)
            got += 1
    except MemoryError:
        del _held[-8:]  # leave room to answer
        return f"MemoryError after {got} MiB"
    return f"allocated {got} MiB"


@server.tool(structured_output=False)
def connect(host: str, port: int) -> str:
    """Open a TCP connection to host:port and close it again."""
    try:
        with socket.create_connection((host, port), timeout=3):
            return "connected"
    except OSError as exc:
        return _error(exc)


@server.tool(structured_output=False)
def allocate_in_children(children: int, mb: int) -> str:
    """Fork `children` processes that each allocate (and touch) `mb` MiB and keep it."""
    read_end, write_end = os.pipe()
    for _ in range(children):
        if os.fork() == 0:
            os.close(read_end)
            try:
                held = bytearray(b"\x01") * (mb * MIB)
                os.write(write_end, b"+")
            except MemoryError:
                held = bytearray()
                os.write(write_end, b"-")
            os.close(write_end)
            while held is not None:
                signal.pause()
    os.close(write_end)
    reports = b""
    with os.fdopen(read_end, "rb") as reader:  # EOF once every child reported or was killed
        reports = reader.read()
    return f"{reports.count(b'+')} held, {reports.count(b'-')} MemoryError, {children - len(reports)} killed"


@server.tool(structured_output=False)
def big_file(mb: int) -> str:
    """Write `mb` MiB to $HOME/big.bin."""
    path = os.path.join(os.environ.get("HOME", "/tmp"), "big.bin")
    written = 0
    chunk = b"\0" * MIB
    try:
        with open(path, "wb") as handle:
            for _ in range(mb):
                handle.write(chunk)
                handle.flush()
                written += 1
    except OSError as exc:
        return f"stopped after {written} MiB: {type(exc).__name__}: {exc}"
    return f"wrote {written} MiB"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--daemon":
        _daemon(sys.argv[2])
    else:
        server.run("stdio")
