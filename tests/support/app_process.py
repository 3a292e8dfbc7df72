"""`python -m app` as a real process on a real port, for crash tests and the benchmark (bench/ uses it too).

Also: a store populated before the app starts, through the app's own repository code, with the app's key.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import sys
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.domain.server import ServerRecord
from app.wiring import Store, open_store
from tests.support import slack_payloads as payloads
from tests.support.harness import SIGNING_SECRET
from tests.support.processes import descendants_of

REPO_ROOT = Path(__file__).resolve().parents[2]
START_LIMIT_SECONDS = 60.0
STOP_LIMIT_SECONDS = 15.0


def new_encryption_key() -> str:
    """A PLUGBOARD_ENCRYPTION_KEYS value, shared by the populating step and the app."""
    return f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def app_env(
    data_dir: Path, policy_file: Path, *, api_url: str, bot_token: str, port: int, key: str, **extra: str
) -> dict[str, str]:
    """A clean environment: nothing from the developer's shell or .env leaks in."""
    home = data_dir.parent / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(REPO_ROOT),
        "PLUGBOARD_POLICY_FILE": str(policy_file),
        "PLUGBOARD_ENCRYPTION_KEYS": key,
        "SLACK_BOT_TOKEN": bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "PLUGBOARD_DATA_DIR": str(data_dir),
        "PLUGBOARD_RESTART_BACKOFF": "0.05",
        "PLUGBOARD_CONNECT_TIMEOUT": "30",
    }
    env.update(extra)
    return env


def local_server(owner: Owner, name: str, command: str, args: Iterable[str], now: float) -> ServerRecord:
    return ServerRecord.approved_new(
        owner, name, LocalServerConfig(command=command, args=tuple(args)), enabled=True, now=now
    )


async def populate(data_dir: Path, key: str, records: Iterable[ServerRecord], *, per_transaction: int = 500) -> int:
    """Store approved, enabled servers as the app would, through its repository; returns how many."""
    store = await open_store(data_dir, key)
    count = 0
    try:
        chunk: list[ServerRecord] = []
        for record in records:
            chunk.append(record)
            if len(chunk) >= per_transaction:
                count += await _insert(store, chunk)
                chunk = []
        if chunk:
            count += await _insert(store, chunk)
    finally:
        await store.close()
    return count


async def _insert(store: Store, records: list[ServerRecord]) -> int:
    async with store.db.transaction() as conn:
        for record in records:
            await store.repo.insert(conn, record)
    return len(records)


@dataclass
class AppProcess:
    process: asyncio.subprocess.Process
    port: int
    output: list[str] = field(default_factory=list)
    _drains: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def text(self) -> str:
        """Everything the app printed so far (stdout and stderr, as they came)."""
        return "".join(self.output)

    @property
    def stderr(self) -> str:
        return self.text

    @classmethod
    async def spawn(
        cls, env: dict[str, str], cwd: Path, port: int, argv: tuple[str, ...] = ("-m", "app")
    ) -> AppProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *argv,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        app = cls(process, port)
        assert process.stdout is not None and process.stderr is not None
        app._drains = [
            asyncio.create_task(app._drain(process.stdout)),
            asyncio.create_task(app._drain(process.stderr)),
        ]
        return app

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.output.append(line.decode(errors="replace"))

    async def wait_healthy(self, http: httpx2.AsyncClient, limit: float = START_LIMIT_SECONDS) -> float:
        """Poll /healthz until it answers 200; returns when (time.monotonic()) it first did."""
        deadline = time.monotonic() + limit
        while True:
            if self.process.returncode is not None or all(task.done() for task in self._drains):
                raise RuntimeError(f"the app exited with {self.process.returncode}:\n{self.text[-3000:]}")
            with suppress(httpx2.TransportError):
                response = await http.get(f"{self.url}/healthz", timeout=1.0)
                if response.status_code == 200:
                    return time.monotonic()
            if time.monotonic() > deadline:
                raise RuntimeError(f"/healthz not up within {limit} s:\n{self.text[-3000:]}")
            await asyncio.sleep(0.01)

    def kill_hard(self) -> None:
        """kill -9: no shutdown code runs (the app's children are reaped by `reap`)."""
        if self.process.returncode is None:
            os.kill(self.pid, signal.SIGKILL)

    async def wait_exit(self, timeout: float) -> int:
        try:
            async with asyncio.timeout(timeout):
                code = await self.process.wait()
                await asyncio.gather(*self._drains)
        except TimeoutError:
            raise AssertionError(f"the app did not exit within {timeout} s; output so far:\n{self.text}") from None
        return code

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        if self.process.returncode is None:
            self.process.send_signal(sig)
        return await self.wait_exit(STOP_LIMIT_SECONDS)

    async def reap(self) -> None:
        """Whatever happened: no process of ours outlives it (children of a killed app included)."""
        leftovers = list(descendants_of(self.pid))
        if self.process.returncode is None:
            self.process.kill()
        with suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.process.wait()
        for pid in leftovers:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for task in self._drains:
            task.cancel()
        await asyncio.gather(*self._drains, return_exceptions=True)


async def post_slash(
    http: httpx2.AsyncClient, base_url: str, text: str, *, owner: Owner, response_url: str, trigger_id: str = ""
) -> httpx2.Response:
    """A signed `/mcp <text>` as Slack sends it."""
    body = payloads.slash_command(
        text,
        user_id=owner.user_id,
        team_id=owner.team_id,
        trigger_id=trigger_id or f"{secrets.randbelow(10**10)}.{secrets.token_hex(8)}",
        response_url=response_url,
    )
    return await http.post(f"{base_url}/slack/events", content=body, headers=payloads.sign(body, SIGNING_SECRET))
