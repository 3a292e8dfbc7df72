"""A stdio transport for MCP servers with a bound on line length.

The SDK's stdio client buffers stdout without limit, so a server writing one endless line grows the app's
memory forever. This one reads bytes, splits lines itself, and ends the session (reporting why) as soon as
an unfinished line passes `max_line_bytes`. Shutdown follows the usual order: close stdin, wait, SIGTERM
the process group, wait, SIGKILL it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TextIO

import anyio
import mcp_types as types
from anyio.abc import Process
from mcp import StdioServerParameters
from mcp.client._transport import TransportStreams
from mcp.shared.message import SessionMessage

MAX_LINE_BYTES = 1024 * 1024
GRACE_SECONDS = 2.0
_POLL_SECONDS = 0.01


class StdoutLineTooLong(Exception):
    """Delivered to the session as the last item before the stream closes."""


def parse_message(line: bytes) -> SessionMessage | Exception:
    try:
        message = types.jsonrpc_message_adapter.validate_json(line.decode("utf-8", errors="replace"), by_name=False)
    except ValueError as exc:
        return exc
    return SessionMessage(message)


@asynccontextmanager
async def bounded_stdio(
    params: StdioServerParameters,
    errlog: TextIO,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
    pass_fds: Sequence[int] = (),
) -> AsyncIterator[TransportStreams]:
    """`pass_fds`: descriptors the child inherits as they are (pipes to the sandbox's wrappers)."""
    # `params.env` is complete (built from scratch by the launcher): nothing of ours is merged in.
    process = await anyio.open_process(
        [params.command, *params.args],
        env=params.env,
        cwd=params.cwd,
        stderr=errlog,
        start_new_session=True,
        pass_fds=pass_fds,
    )
    inbound_send, inbound_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    outbound_send, outbound_receive = anyio.create_memory_object_stream[SessionMessage](0)

    async def read_stdout() -> None:
        assert process.stdout is not None
        pending = bytearray()
        async with inbound_send:
            try:
                async for chunk in process.stdout:
                    pending += chunk
                    while (end := pending.find(b"\n")) >= 0:
                        line = bytes(pending[:end])
                        del pending[: end + 1]
                        if line.strip():
                            await inbound_send.send(parse_message(line))
                    if len(pending) > max_line_bytes:
                        await inbound_send.send(
                            StdoutLineTooLong(f"the server wrote a line longer than {_size(max_line_bytes)} to stdout")
                        )
                        return
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError):
                return

    async def write_stdin() -> None:
        assert process.stdin is not None
        async with outbound_receive:
            try:
                async for message in outbound_receive:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                    await process.stdin.send(data.encode())
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                await inbound_send.aclose()  # the server stopped reading: let the session see the end

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(read_stdout)
        tasks.start_soon(write_stdin)
        try:
            yield inbound_receive, outbound_send
        finally:
            with anyio.CancelScope(shield=True):
                await _stop(process)
                outbound_send.close()
                inbound_receive.close()
            tasks.cancel_scope.cancel()


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):g} MiB" if count >= 1024 * 1024 else f"{count // 1024} KiB"


async def _stop(process: Process) -> None:
    if process.stdin is not None:
        with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            await process.stdin.aclose()
    for signum in (None, signal.SIGTERM, signal.SIGKILL):
        if signum is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signum)
        if await _exited_within(process, GRACE_SECONDS):
            break
    if process.stdout is not None:
        with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            await process.stdout.aclose()
    with contextlib.suppress(OSError):
        await process.aclose()


async def _exited_within(process: Process, seconds: float) -> bool:
    # Polls returncode rather than wait(): wait() also waits for pipes a surviving grandchild may hold.
    with anyio.move_on_after(seconds):
        while process.returncode is None:  # noqa: ASYNC110  # no event fires when a child exits
            await anyio.sleep(_POLL_SECONDS)
        return True
    return False
