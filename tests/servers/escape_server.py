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
- ``open_for_write{path}`` -> ``"opened"`` or ``"error: ..."`` (``os.open`` with ``O_WRONLY`` only; nothing is written)
- ``make_user_namespace{}`` -> ``"created"`` or ``"error: OSError: [Errno <n>] <message>"``: a forked (so
  single-threaded) child calls ``unshare(CLONE_NEWUSER)``
- ``seccomp_status{}`` -> the ``Seccomp``, ``Seccomp_filters`` and ``NoNewPrivs`` lines of ``/proc/self/status``
- ``route_lookup{address}`` -> ``"route"`` or ``"error: ..."``: ``connect`` of a UDP socket to port 9 only looks
  up a route; no packet is sent
- ``connect_abstract{name}`` -> ``"connected"`` or ``"error: ..."`` (a unix stream socket to ``"\\0" + name``)
- ``fill_home{mb}`` -> writes ``$HOME/fill.bin`` in 1 MiB pieces (going on in ``fill-1.bin``, ``fill-2.bin`` ...
  whenever the per-file size limit stops a file, so only the disk can stop it); returns ``"wrote <n> MiB"`` or
  ``"stopped after <n> MiB: <ExceptionName>: <message>"``
- ``resolve{host}`` -> JSON list of the IPv4/IPv6 addresses ``getaddrinfo`` gives, or ``"error: ..."``
- ``list_dir{path}`` -> JSON list of the sorted names in the folder, or ``"error: ..."``
- ``proc_net_tcp{}`` -> the number of lines in ``/proc/net/tcp`` (header included), or ``"error: ..."``
"""

from __future__ import annotations

import ctypes
import errno
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


@server.tool(structured_output=False)
def open_for_write(path: str) -> str:
    """Open the file at `path` for writing (O_WRONLY, no O_CREAT, no O_TRUNC) and close it without writing."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as exc:
        return _error(exc)
    os.close(fd)
    return "opened"


CLONE_NEWUSER = 0x10000000


@server.tool(structured_output=False)
def make_user_namespace() -> str:
    """Try to create a user namespace (where a process could give itself every capability)."""
    # Tools run in worker threads and unshare(CLONE_NEWUSER) always fails (EINVAL) in a multi-threaded process,
    # which would pass for a refusal: a forked child has a single thread, so its answer is the sandbox's.
    libc = ctypes.CDLL(None, use_errno=True)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        code = 0 if libc.unshare(CLONE_NEWUSER) == 0 else ctypes.get_errno()
        os.write(write_end, str(code).encode())
        os._exit(0)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as reader:
            answer = reader.read()
    finally:
        os.waitpid(child, 0)
    if not answer:
        return "error: the child died before answering"
    code = int(answer)
    return "created" if code == 0 else _error(OSError(code, os.strerror(code)))


@server.tool(structured_output=False)
def seccomp_status() -> str:
    """The Seccomp, Seccomp_filters and NoNewPrivs lines of /proc/self/status."""
    try:
        with open("/proc/self/status") as handle:
            lines = [
                line.strip() for line in handle if line.split(":")[0] in ("Seccomp", "Seccomp_filters", "NoNewPrivs")
            ]
    except OSError as exc:
        return _error(exc)
    return "\n".join(lines)


@server.tool(structured_output=False)
def route_lookup(address: str) -> str:
    """Whether the kernel has a route to `address`: connect() of a UDP socket sends nothing, it only routes."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((address, 9))
    except OSError as exc:
        return _error(exc)
    return "route"


@server.tool(structured_output=False)
def connect_abstract(name: str) -> str:
    """Connect a unix stream socket to the abstract address "\\0" + `name`."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(3)
            sock.connect("\0" + name)
    except OSError as exc:
        return _error(exc)
    return "connected"


@server.tool(structured_output=False)
def fill_home(mb: int) -> str:
    """Write `mb` MiB into $HOME, a new file whenever the per-file size limit stops one: only a full disk stops it."""
    home = os.environ.get("HOME", "/tmp")
    chunk = b"\1" * MIB
    written, files = 0, 0
    while written < mb:
        path = os.path.join(home, "fill.bin" if files == 0 else f"fill-{files}.bin")
        count, error = _fill_file(path, chunk, mb - written)
        written += count
        if error is None:
            break
        if error.errno != errno.EFBIG or count == 0:
            return f"stopped after {written} MiB: {type(error).__name__}: {error}"
        files += 1
    return f"wrote {written} MiB"


def _fill_file(path: str, chunk: bytes, pieces: int) -> tuple[int, OSError | None]:
    """Write up to `pieces` chunks to a new file at `path`: how many were written whole, and what stopped it."""
    written = 0
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        return written, exc
    try:
        for _ in range(pieces):
            view = memoryview(chunk)
            while view:  # a full disk shows as a short write first, then as the OSError
                view = view[os.write(fd, view) :]
            written += 1
    except OSError as exc:
        return written, exc
    finally:
        os.close(fd)
    return written, None


@server.tool(structured_output=False)
def resolve(host: str) -> str:
    """The addresses `host` resolves to (getaddrinfo), as a JSON list."""
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        return _error(exc)
    return json.dumps(sorted({str(info[4][0]) for info in found}))


@server.tool(structured_output=False)
def list_dir(path: str) -> str:
    """The sorted names in the folder at `path`, as a JSON list."""
    try:
        return json.dumps(sorted(os.listdir(path)))
    except OSError as exc:
        return _error(exc)


@server.tool(structured_output=False)
def proc_net_tcp() -> str:
    """How many lines /proc/net/tcp has (the header and one per IPv4 TCP socket this network namespace holds)."""
    try:
        with open("/proc/net/tcp") as handle:
            return str(sum(1 for _ in handle))
    except OSError as exc:
        return _error(exc)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--daemon":
        _daemon(sys.argv[2])
    else:
        server.run("stdio")
