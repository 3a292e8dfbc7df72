"""Progress of the tool call in flight: whoever calls a tool may ask for the server's `progress` notifications.

A context variable rather than a parameter, so that a caller several layers up (the assistant showing a step)
can ask without every layer in between passing it along: `with reporting_progress(on_progress): await call(...)`.
The callback is taken when the call starts and gets (progress, total or None, message or None).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from mcp.shared.dispatcher import ProgressFnT

# `async def on_progress(progress: float, total: float | None, message: str | None) -> None`
ProgressCallback = ProgressFnT

_current: ContextVar[ProgressCallback | None] = ContextVar("plugboard_call_progress", default=None)


@contextmanager
def reporting_progress(callback: ProgressCallback) -> Iterator[None]:
    """Tool calls made inside the block send their progress notifications to `callback`."""
    token = _current.set(callback)
    try:
        yield
    finally:
        _current.reset(token)


def current_progress() -> ProgressCallback | None:
    return _current.get()
