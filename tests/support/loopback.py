"""Real HTTP servers on 127.0.0.1 for remote-connector tests: ASGI apps under uvicorn in the test's own event
loop, and `@modelcontextprotocol/server-everything` as a subprocess. Every server is stopped and every
process reaped when its context manager exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from aiohttp import web
from starlette.types import ASGIApp

from tests.servers import SERVERS_DIR

EVERYTHING_BIN = SERVERS_DIR / "node_modules" / ".bin" / "mcp-server-everything"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


async def serve_aiohttp(app: web.Application) -> tuple[web.AppRunner, str]:
    """`app` on 127.0.0.1:<free port>, for the fakes (Slack, the model) and the benchmark's receiver: its runner
    (`cleanup()` stops it) and its base URL, `http://127.0.0.1:<port>`."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def bound_socket() -> socket.socket:
    """A listening-ready TCP socket on 127.0.0.1:<free port>, so the port is known before the app is built."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    with contextlib.closing(bound_socket()) as sock:
        return int(sock.getsockname()[1])


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the test process keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class LoopbackServer:
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}{path}"


@asynccontextmanager
async def serve_asgi(
    build: Callable[[str], ASGIApp], sock: socket.socket | None = None
) -> AsyncIterator[LoopbackServer]:
    """Serve `build(base_url)` on a fresh loopback port inside this event loop until the block exits."""
    sock = sock or bound_socket()
    port = int(sock.getsockname()[1])
    server = LoopbackServer(port)
    config = uvicorn.Config(build(server.base_url), log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    runner = _QuietServer(config)
    task = asyncio.create_task(runner.serve(sockets=[sock]), name=f"loopback:{port}")
    try:
        async with asyncio.timeout(START_TIMEOUT):
            while not runner.started:
                if task.done():
                    task.result()  # raises what went wrong
                    raise AssertionError(f"the server on port {port} stopped during start-up")
                await asyncio.sleep(0.01)
        yield server
    finally:
        runner.should_exit = True
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await task
        except TimeoutError:
            runner.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        sock.close()


@dataclass
class EverythingServer(LoopbackServer):
    mode: str
    process: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        return self.url("/sse" if self.mode == "sse" else "/mcp")


async def _port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


@asynccontextmanager
async def running_everything(mode: str, log_dir: Path) -> AsyncIterator[EverythingServer]:
    """`mcp-server-everything <mode>` (streamableHttp | sse) on a free port; it binds all interfaces."""
    port = free_port()
    env = {"PATH": f"{EVERYTHING_BIN.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}", "PORT": str(port)}
    log_path = log_dir / f"everything-{mode}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220  # started once; reaped below with a bounded wait
            [str(EVERYTHING_BIN), mode], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        async with asyncio.timeout(START_TIMEOUT):
            while not await _port_open(port):
                if process.poll() is not None:
                    raise AssertionError(f"server-everything exited with {process.returncode}: {log_path.read_text()}")
                await asyncio.sleep(0.05)
        yield EverythingServer(port=port, mode=mode, process=process)
    finally:
        await _reap(process)


async def _reap(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    await asyncio.to_thread(process.wait, STOP_TIMEOUT)
