"""The test servers in tests/servers behave as documented, against the real mcp 2.3 stdio client.

Every server is spawned with a minimal environment (PATH + an empty HOME, cwd = that HOME) by absolute path with
the test interpreter. Every wait is bounded and every spawned process must be reaped by the end of each test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.subscriptions import ToolsListChanged

from tests.servers import PYTHON, server_path
from tests.support.processes import every_child_reaped  # noqa: F401  (autouse fixture)

pytestmark = pytest.mark.anyio

MIN_PATH = "/usr/local/bin:/usr/bin:/bin"
READ_TIMEOUT = 5.0  # per-request bound for servers that do answer
CONNECT_BOUND = 15.0  # outer bound around a whole `async with Client(...)`
NOTIFY_BOUND = 5.0  # bound on waiting for a notification / subscription event
# Variables the SDK's stdio_client passes through from our own environment on POSIX (plus params.env).
SDK_INHERITED = {"HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER"}
# PEP 538: CPython under a C/POSIX locale coerces it and exports LC_CTYPE into its own environment.
PYTHON_ADDED = {"LC_CTYPE"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def _params(home: Path, name: str, *args: str, **kwargs: Any) -> StdioServerParameters:
    return StdioServerParameters(
        command=PYTHON,
        args=[server_path(name), *args],
        env={"PATH": MIN_PATH, "HOME": str(home)},
        cwd=str(home),
        **kwargs,
    )


def _text(result: types.CallToolResult) -> str:
    assert not result.is_error, result
    [content] = result.content
    assert isinstance(content, types.TextContent)
    return content.text


async def _tool_names(client: Client) -> list[str]:
    return [tool.name for tool in (await client.list_tools(cache_mode="bypass")).tools]


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


async def _failed_connect(
    params: StdioServerParameters, *, read_timeout: float, errlog: Any = None, **client_kwargs: Any
) -> tuple[list[BaseException], float]:
    """Connect, expecting the handshake to fail; return the leaf exceptions and the time it took."""
    transport = stdio_client(params) if errlog is None else stdio_client(params, errlog=errlog)
    start = time.monotonic()
    with anyio.fail_after(CONNECT_BOUND):
        try:
            async with Client(transport, read_timeout_seconds=read_timeout, **client_kwargs):
                pass
        except Exception as exc:
            return _leaves(exc), time.monotonic() - start
    pytest.fail("the handshake unexpectedly succeeded")


def _mcp_codes(leaves: list[BaseException]) -> list[int]:
    return [leaf.code for leaf in leaves if isinstance(leaf, MCPError)]


class Collector:
    """A message_handler that records everything and lets a test wait (bounded) for a match."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._arrived = anyio.Event()

    async def __call__(self, message: Any) -> None:
        self.items.append(message)
        arrived, self._arrived = self._arrived, anyio.Event()
        arrived.set()

    def matching(self, predicate: Callable[[Any], bool]) -> list[Any]:
        return [item for item in self.items if predicate(item)]

    async def wait_for_count(self, predicate: Callable[[Any], bool], count: int) -> list[Any]:
        with anyio.fail_after(NOTIFY_BOUND):
            while len(found := self.matching(predicate)) < count:
                await self._arrived.wait()
        return found


def _is_tools_changed(message: Any) -> bool:
    return isinstance(message, types.ToolListChangedNotification)


# --- tiny_server -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_tiny_server_default_tools(home: Path, mode: str) -> None:
    with anyio.fail_after(CONNECT_BOUND):
        async with Client(
            stdio_client(_params(home, "tiny_server")), read_timeout_seconds=READ_TIMEOUT, mode=mode
        ) as client:
            # MCPServer answers server/discover, so auto lands on the modern era without the 10 s fallback.
            assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
            assert client.server_info is not None
            assert client.server_info.name == "tiny-server"
            assert await _tool_names(client) == ["echo", "add"]
            assert _text(await client.call_tool("echo", {"message": "hi there"})) == "hi there"
            assert _text(await client.call_tool("add", {"a": 2, "b": 40})) == "42"
            assert (await client.call_tool("shout", {"message": "x"})).is_error


async def test_tiny_server_tools_and_name_args(home: Path) -> None:
    params = _params(home, "tiny_server", "--tools", "shout,echo", "--name", "custom-name")
    with anyio.fail_after(CONNECT_BOUND):
        async with Client(stdio_client(params), read_timeout_seconds=READ_TIMEOUT, mode="legacy") as client:
            assert client.server_info is not None
            assert client.server_info.name == "custom-name"
            assert await _tool_names(client) == ["shout", "echo"]
            assert _text(await client.call_tool("shout", {"message": "quiet please"})) == "QUIET PLEASE"
            assert (await client.call_tool("add", {"a": 1, "b": 2})).is_error


async def test_tiny_server_rejects_unknown_tool_arg(home: Path) -> None:
    with (home / "err.log").open("w") as errlog:
        leaves, _ = await _failed_connect(
            _params(home, "tiny_server", "--tools", "echo,nope"),
            read_timeout=READ_TIMEOUT,
            errlog=errlog,
            mode="legacy",
        )
    assert _mcp_codes(leaves) == [types.CONNECTION_CLOSED]
    assert "unknown tool(s): nope" in (home / "err.log").read_text()


# --- env_dump_server -------------------------------------------------------------------------------------------


async def test_env_dump_server_sees_only_minimal_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGBOARD_TEST_SECRET", "must-not-leak")
    params = _params(home, "env_dump_server")
    assert params.env is not None
    params.env["EXTRA_VAR"] = "extra"
    with anyio.fail_after(CONNECT_BOUND):
        async with Client(stdio_client(params), read_timeout_seconds=READ_TIMEOUT, mode="legacy") as client:
            assert await _tool_names(client) == ["dump_env", "whoami"]
            env = json.loads(_text(await client.call_tool("dump_env")))
            who = json.loads(_text(await client.call_tool("whoami")))
    assert "PLUGBOARD_TEST_SECRET" not in env
    assert set(env) <= SDK_INHERITED | PYTHON_ADDED | {"EXTRA_VAR"}
    assert (env["PATH"], env["HOME"], env["EXTRA_VAR"]) == (MIN_PATH, str(home), "extra")
    assert who["cwd"] == str(home)  # pytest's tmp_path is already resolved
    assert who["home"] == str(home)
    assert who["argv"] == [server_path("env_dump_server")]
    assert isinstance(who["pid"], int)
    assert who["pid"] != os.getpid()


ENV = shutil.which("env")


@pytest.mark.skipif(ENV is None, reason="needs env(1)")
@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("tiny_server", []),
        ("env_dump_server", []),
        ("crash_server", []),
        ("changing_server", []),
        ("stderr_flood_server", ["--bytes", "1000"]),
        ("legacy_server", []),
    ],
)
async def test_servers_run_in_a_cleared_environment(home: Path, name: str, args: list[str]) -> None:
    """`env -i` leaves exactly PATH and HOME; cwd is / so nothing can come from the working directory."""
    assert ENV is not None
    params = StdioServerParameters(
        command=ENV, args=["-i", f"PATH={MIN_PATH}", f"HOME={home}", PYTHON, server_path(name), *args], cwd="/"
    )
    with (home / "err.log").open("w") as errlog, anyio.fail_after(CONNECT_BOUND):
        async with Client(
            stdio_client(params, errlog=errlog), read_timeout_seconds=READ_TIMEOUT, mode="legacy"
        ) as client:
            assert await _tool_names(client)
            if name == "env_dump_server":
                env = json.loads(_text(await client.call_tool("dump_env")))
                assert set(env) <= {"PATH", "HOME"} | PYTHON_ADDED
                assert (env["PATH"], env["HOME"]) == (MIN_PATH, str(home))
                assert json.loads(_text(await client.call_tool("whoami")))["cwd"] == "/"


# --- silent_server ---------------------------------------------------------------------------------------------


async def test_silent_server_times_out_initialize(home: Path) -> None:
    pid_file = home / "pid"
    leaves, elapsed = await _failed_connect(
        _params(home, "silent_server", "--pid-file", str(pid_file)), read_timeout=2, mode="legacy"
    )
    assert _mcp_codes(leaves) == [types.REQUEST_TIMEOUT]
    assert 2 <= elapsed < 10  # 2 s read timeout; it exits as soon as stdin closes, so no SIGTERM grace
    _assert_gone(int(pid_file.read_text()))


def _assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize(
    ("name", "args"), [("silent_server", []), ("garbage_server", []), ("garbage_server", ["--binary"])]
)
async def test_non_mcp_servers_exit_when_stdin_closes(home: Path, name: str, args: list[str]) -> None:
    process = await anyio.open_process(
        [PYTHON, server_path(name), *args],
        env={"PATH": MIN_PATH, "HOME": str(home)},
        cwd=str(home),
        stdout=subprocess.DEVNULL,
        stderr=None,
    )
    try:
        assert process.stdin is not None
        await process.stdin.send(b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}\n')
        await process.stdin.aclose()
        with anyio.fail_after(10):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            with anyio.CancelScope(shield=True):
                await process.wait()
        await process.aclose()


# --- garbage_server --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding_error_handler", ["strict", "replace"])
async def test_garbage_server_text_lines_reach_message_handler(home: Path, encoding_error_handler: str) -> None:
    """Each non-JSON-RPC line becomes an Exception in message_handler; the handshake then times out."""
    collector = Collector()
    leaves, elapsed = await _failed_connect(
        _params(home, "garbage_server", encoding_error_handler=encoding_error_handler),
        read_timeout=2,
        mode="legacy",
        message_handler=collector,
    )
    assert _mcp_codes(leaves) == [types.REQUEST_TIMEOUT]
    assert [leaf for leaf in leaves if not isinstance(leaf, MCPError)] == []
    assert 2 <= elapsed < 10
    assert collector.items
    assert all(isinstance(item, ValueError) for item in collector.items)  # pydantic ValidationError
    assert "Invalid JSON" in str(collector.items[0])


async def test_garbage_server_invalid_utf8_kills_the_reader_silently(home: Path) -> None:
    """With the default strict decoding, invalid UTF-8 ends the stdout reader with UnicodeDecodeError: nothing
    reaches message_handler (even the valid lines of that chunk) and the failure only surfaces once the
    handshake times out, next to the MCPError in the exception group."""
    collector = Collector()
    pid_file = home / "pid"
    leaves, elapsed = await _failed_connect(
        _params(home, "garbage_server", "--binary", "--pid-file", str(pid_file)),
        read_timeout=2,
        mode="legacy",
        message_handler=collector,
    )
    assert _mcp_codes(leaves) == [types.REQUEST_TIMEOUT]
    assert [type(leaf) for leaf in leaves if not isinstance(leaf, MCPError)] == [UnicodeDecodeError]
    assert 2 <= elapsed < 10
    assert collector.items == []
    _assert_gone(int(pid_file.read_text()))


async def test_garbage_server_binary_with_replace_surfaces_like_text(home: Path) -> None:
    collector = Collector()
    leaves, _ = await _failed_connect(
        _params(home, "garbage_server", "--binary", encoding_error_handler="replace"),
        read_timeout=2,
        mode="legacy",
        message_handler=collector,
    )
    assert _mcp_codes(leaves) == [types.REQUEST_TIMEOUT]
    assert collector.items
    assert all(isinstance(item, ValueError) for item in collector.items)


# --- crash_server ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_crash_tool_ends_the_session(home: Path, mode: str) -> None:
    with (home / "err.log").open("w") as errlog, anyio.fail_after(CONNECT_BOUND):
        async with Client(
            stdio_client(_params(home, "crash_server"), errlog=errlog), read_timeout_seconds=READ_TIMEOUT, mode=mode
        ) as client:
            assert await _tool_names(client) == ["ping", "crash"]
            assert _text(await client.call_tool("ping")) == "pong"
            with pytest.raises(MCPError) as crashed:
                await client.call_tool("crash")
            assert crashed.value.code == types.CONNECTION_CLOSED
            with pytest.raises(MCPError) as after:
                await client.call_tool("ping")
            assert after.value.code == types.CONNECTION_CLOSED
    assert "crash tool called" in (home / "err.log").read_text()


async def _raw_line(stream: Any, buffer: bytearray) -> dict[str, Any]:
    while b"\n" not in buffer:
        buffer.extend(await stream.receive())
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return dict(json.loads(line))


async def test_crash_tool_exit_status_is_3(home: Path) -> None:
    """Speak raw legacy JSON-RPC so the exit status is observable."""
    process = await anyio.open_process(
        [PYTHON, server_path("crash_server")],
        env={"PATH": MIN_PATH, "HOME": str(home)},
        cwd=str(home),
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        buffer = bytearray()
        init = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        }
        with anyio.fail_after(CONNECT_BOUND):
            await process.stdin.send(
                json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}).encode() + b"\n"
            )
            assert (await _raw_line(process.stdout, buffer))["id"] == 1
            for message in (
                {"jsonrpc": "2.0", "method": "notifications/initialized"},
                {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "ping", "arguments": {}}},
            ):
                await process.stdin.send(json.dumps(message).encode() + b"\n")
            assert (await _raw_line(process.stdout, buffer))["result"]["content"][0]["text"] == "pong"
            call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "crash", "arguments": {}}}
            await process.stdin.send(json.dumps(call).encode() + b"\n")
            assert await process.wait() == 3
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
            with anyio.CancelScope(shield=True):
                await process.wait()
        await process.aclose()


async def test_crash_on_start_file(home: Path) -> None:
    flag = home / "crash-loop"
    flag.touch()
    params = _params(home, "crash_server", "--crash-on-start-file", str(flag))
    with (home / "err.log").open("w") as errlog:
        leaves, elapsed = await _failed_connect(params, read_timeout=READ_TIMEOUT, errlog=errlog, mode="legacy")
    assert _mcp_codes(leaves) == [types.CONNECTION_CLOSED]
    assert elapsed < READ_TIMEOUT  # fails on process exit, not on the read timeout
    assert f"{flag} exists, refusing to start" in (home / "err.log").read_text()

    flag.unlink()
    with anyio.fail_after(CONNECT_BOUND):
        async with Client(stdio_client(params), read_timeout_seconds=READ_TIMEOUT, mode="legacy") as client:
            assert _text(await client.call_tool("ping")) == "pong"


# --- changing_server -------------------------------------------------------------------------------------------

INITIAL_CHANGING_TOOLS = ["alpha", "add_tool", "remove_tool", "set_description"]


async def test_changing_server_legacy_list_changed_reaches_message_handler(home: Path) -> None:
    collector = Collector()
    with anyio.fail_after(CONNECT_BOUND + 3 * NOTIFY_BOUND):
        async with Client(
            stdio_client(_params(home, "changing_server")),
            read_timeout_seconds=READ_TIMEOUT,
            mode="legacy",
            message_handler=collector,
        ) as client:
            assert client.protocol_version == "2025-11-25"
            assert client.server_capabilities.tools is not None
            assert client.server_capabilities.tools.list_changed is True
            assert await _tool_names(client) == INITIAL_CHANGING_TOOLS
            assert _text(await client.call_tool("alpha")) == "alpha"

            assert _text(await client.call_tool("add_tool", {"name": "beta"})) == "added beta"
            await collector.wait_for_count(_is_tools_changed, 1)
            assert await _tool_names(client) == [*INITIAL_CHANGING_TOOLS, "beta"]
            assert _text(await client.call_tool("beta")) == "beta called"

            await client.call_tool("set_description", {"tool": "alpha", "text": "Pinned? Not any more."})
            await collector.wait_for_count(_is_tools_changed, 2)
            tools = {tool.name: tool for tool in (await client.list_tools(cache_mode="bypass")).tools}
            assert tools["alpha"].description == "Pinned? Not any more."
            assert list(tools) == [*INITIAL_CHANGING_TOOLS, "beta"]  # order is stable across edits

            assert _text(await client.call_tool("remove_tool", {"name": "beta"})) == "removed beta"
            await collector.wait_for_count(_is_tools_changed, 3)
            assert await _tool_names(client) == INITIAL_CHANGING_TOOLS
            assert collector.matching(lambda m: isinstance(m, Exception)) == []


async def test_changing_server_without_legacy_capability_still_notifies(home: Path) -> None:
    """MCPServer's own default: tools.listChanged=false in the handshake era. The client does not gate on it."""
    collector = Collector()
    params = _params(home, "changing_server", "--no-legacy-capability")
    with anyio.fail_after(CONNECT_BOUND + NOTIFY_BOUND):
        async with Client(
            stdio_client(params), read_timeout_seconds=READ_TIMEOUT, mode="legacy", message_handler=collector
        ) as client:
            assert client.server_capabilities.tools is not None
            assert client.server_capabilities.tools.list_changed is False
            await client.call_tool("add_tool", {"name": "gamma"})
            await collector.wait_for_count(_is_tools_changed, 1)


async def test_changing_server_modern_list_changed_reaches_listen(home: Path) -> None:
    with anyio.fail_after(CONNECT_BOUND + 2 * NOTIFY_BOUND):
        async with Client(
            stdio_client(_params(home, "changing_server")), read_timeout_seconds=READ_TIMEOUT, mode="auto"
        ) as client:
            assert client.protocol_version == "2026-07-28"
            assert client.server_capabilities.tools is not None
            assert client.server_capabilities.tools.list_changed is True
            async with client.listen(tools_list_changed=True) as subscription:
                assert subscription.honored.tools_list_changed is True
                await client.call_tool("add_tool", {"name": "delta"})
                with anyio.fail_after(NOTIFY_BOUND):
                    event = await anext(subscription)
                assert isinstance(event, ToolsListChanged)
                assert await _tool_names(client) == [*INITIAL_CHANGING_TOOLS, "delta"]

                await client.call_tool("set_description", {"tool": "delta", "text": "changed"})
                with anyio.fail_after(NOTIFY_BOUND):
                    assert isinstance(await anext(subscription), ToolsListChanged)
                tools = {tool.name: tool for tool in (await client.list_tools(cache_mode="bypass")).tools}
                assert tools["delta"].description == "changed"


# --- stderr_flood_server ---------------------------------------------------------------------------------------


async def test_stderr_flood_server_writes_5_mib_and_still_serves(home: Path) -> None:
    log = home / "stderr.log"
    with log.open("w") as errlog, anyio.fail_after(CONNECT_BOUND):
        async with Client(
            stdio_client(_params(home, "stderr_flood_server"), errlog=errlog),
            read_timeout_seconds=READ_TIMEOUT,
            mode="legacy",
        ) as client:
            assert await _tool_names(client) == ["echo"]
            assert _text(await client.call_tool("echo", {"message": "still here"})) == "still here"
    assert log.stat().st_size >= 5 * 1024 * 1024


# --- legacy_server ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "discover"), [("legacy", "error"), ("auto", "error"), ("legacy", "ignore")])
async def test_legacy_server_fast_paths(home: Path, mode: str, discover: str) -> None:
    params = _params(home, "legacy_server", "--discover", discover, "--name", "old-timer")
    start = time.monotonic()
    with anyio.fail_after(CONNECT_BOUND):
        async with Client(stdio_client(params), read_timeout_seconds=READ_TIMEOUT, mode=mode) as client:
            connected = time.monotonic() - start
            assert client.protocol_version == "2025-11-25"
            assert client.server_info is not None
            assert client.server_info.name == "old-timer"
            assert await _tool_names(client) == ["echo"]
            assert _text(await client.call_tool("echo", {"message": "old"})) == "old"
            assert (await client.call_tool("nope")).is_error
    assert connected < 5  # no 10 s discover probe on these paths


async def test_legacy_server_ignoring_discover_costs_auto_the_10s_probe(home: Path) -> None:
    """The reason to cache each server's era and reconnect with mode="legacy": auto waits out a fixed 10 s
    server/discover probe against a legacy server that silently drops unknown requests."""
    params = _params(home, "legacy_server", "--discover", "ignore")
    start = time.monotonic()
    with anyio.fail_after(CONNECT_BOUND):
        async with Client(stdio_client(params), read_timeout_seconds=READ_TIMEOUT, mode="auto") as client:
            connected = time.monotonic() - start
            assert client.protocol_version == "2025-11-25"
            assert _text(await client.call_tool("echo", {"message": "late"})) == "late"
    assert connected >= 9.5


# --- helper ----------------------------------------------------------------------------------------------------


def test_server_path_helper() -> None:
    path = Path(server_path("tiny_server"))
    assert path.is_absolute()
    assert path.is_file()
    assert server_path("tiny_server.py") == str(path)
    assert sys.executable == PYTHON
    with pytest.raises(FileNotFoundError):
        server_path("no_such_server")
