"""Whether the admin policy lets an owner run a given local command, and how it will run."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from app.domain.errors import InvalidConfig
from app.domain.local_config import LocalServerConfig
from app.domain.policy import LocalServerPolicy
from app.domain.risk import risk_flags
from app.runtime.sandbox_mounts import WORKSPACE

FILESYSTEM_LOOKUP_SECONDS = 10.0
CACHED_LOOKUPS = 10_000


@dataclass(frozen=True)
class RunConditions:
    """What the consent message states about how the server will run."""

    sandboxed: bool
    # "internet" (public addresses only), "none" or "host"; trusted mode is always the host's network.
    network: str
    flags: tuple[str, ...]
    # Private networks the admin lets every sandbox reach, said on the card while any is set.
    allow_networks: tuple[str, ...] = ()
    home_quota_mb: int | None = None
    # Absolute paths among the arguments that do not exist inside the sandbox (the card offers the workspace).
    hidden_paths: tuple[str, ...] = ()


class LocalGate:
    def __init__(
        self,
        policy: LocalServerPolicy,
        sandbox_problem: str | None,
        *,
        home_quota_mb: int | None = None,
        hidden_paths: Callable[[LocalServerConfig], tuple[str, ...]] | None = None,
        command_problem: Callable[[LocalServerConfig], str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy
        self._sandbox_problem = sandbox_problem
        self._home_quota_mb = home_quota_mb
        self._hidden_paths = hidden_paths
        self._command_problem = command_problem
        self._clock = clock
        self._seen: dict[str, tuple[float, tuple[str, ...], str | None]] = {}

    def _looked_up(self, config: LocalServerConfig) -> tuple[tuple[str, ...], str | None]:
        """What the sandbox would not show of this config, from the file system: a few dozen lstat calls, so kept
        for a short while (every `/mcp list` and App Home checks each server; an install shows within seconds)."""
        key = config.approval_hash()
        now = self._clock()
        cached = self._seen.get(key)
        if cached is not None and now - cached[0] < FILESYSTEM_LOOKUP_SECONDS:
            return cached[1], cached[2]
        hidden = self.hidden_paths(config)
        problem = self._command_problem(config) if self._command_problem is not None else None
        if len(self._seen) >= CACHED_LOOKUPS:
            self._seen.clear()
        self._seen[key] = (now, hidden, problem)
        return hidden, problem

    def hidden_paths(self, config: LocalServerConfig) -> tuple[str, ...]:
        if self._policy.mode == "trusted" or self._hidden_paths is None:
            return ()
        return self._hidden_paths(config)

    @property
    def mode(self) -> str:
        return self._policy.mode

    def check(self, config: LocalServerConfig) -> RunConditions:
        """Raise InvalidConfig (on `command`) when the policy forbids this; otherwise how it would run."""
        mode = self._policy.mode
        if mode == "off":
            raise InvalidConfig.single("command", "Local servers are turned off by your Plugboard admin.")
        if mode in ("sandboxed", "catalog") and self._sandbox_problem:
            raise InvalidConfig.single(
                "command", f"Local servers cannot run safely on this Plugboard host: {self._sandbox_problem}"
            )
        if mode == "catalog" and not any(e.matches(config.command, config.args) for e in self._policy.catalog):
            allowed = "; ".join(" ".join((e.command, *e.args_prefix)) for e in self._policy.catalog[:10]) or "none"
            raise InvalidConfig.single(
                "command", f"Your admin allows only catalog commands here. Allowed: {allowed}"[:1900]
            )
        sandboxed = mode != "trusted"
        network = config.network_or(self._policy.network)
        if sandboxed and network not in self._policy.networks_for_owners():
            raise InvalidConfig.single(
                "network", 'Your admin does not allow `"network": "host"` here; use "internet" or "none".'
            )
        if not sandboxed:
            return RunConditions(sandboxed=False, network="host", flags=tuple(risk_flags(config)))
        hidden, problem = self._looked_up(config)
        return RunConditions(
            sandboxed=True,
            network=network,
            flags=(*((problem,) if problem else ()), *risk_flags(config), *(_hidden_flag(path) for path in hidden)),
            hidden_paths=hidden,
            allow_networks=self._policy.allow_networks if network == "internet" else (),
            home_quota_mb=self._home_quota_mb,
        )


def _hidden_flag(path: str) -> str:
    return (
        f"`{path}` does not exist inside the sandbox (it shows system folders, the server's own home and your "
        f"workspace): put what the server needs in your workspace and use `{WORKSPACE}` instead"
    )
