"""The one polling helper of the tests: bounded, never a bare sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import anyio

T = TypeVar("T")

POLL_SECONDS = 0.02


async def wait_until(check: Callable[[], T], *, timeout: float, what: str) -> T:
    """Call `check` until it returns something truthy, and return that; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await anyio.sleep(POLL_SECONDS)
