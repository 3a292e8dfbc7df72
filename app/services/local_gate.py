"""Whether the admin policy lets an owner run a given local command, and how it will run."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.errors import InvalidConfig
from app.domain.local_config import LocalServerConfig
from app.domain.policy import LocalServerPolicy
from app.domain.risk import risk_flags


@dataclass(frozen=True)
class RunConditions:
    """What the consent message states about how the server will run."""

    sandboxed: bool
    network: bool
    flags: tuple[str, ...]


class LocalGate:
    def __init__(self, policy: LocalServerPolicy, sandbox_problem: str | None) -> None:
        self._policy = policy
        self._sandbox_problem = sandbox_problem

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
        return RunConditions(
            sandboxed=sandboxed, network=not config.offline or not sandboxed, flags=tuple(risk_flags(config))
        )
