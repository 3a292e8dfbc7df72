"""One place that says whether a config may be added or run, for local and remote servers alike."""

from __future__ import annotations

from collections.abc import Callable

from app.domain.errors import InvalidConfig
from app.domain.local_config import LocalServerConfig
from app.domain.remote_config import RemoteServerConfig
from app.services.local_gate import LocalGate, RunConditions

# Raises ValueError with a user-facing reason when a URL may not be reached (the egress policy).
UrlCheck = Callable[[str], None]


class ServerGate:
    def __init__(self, local: LocalGate, check_url: UrlCheck) -> None:
        self._local = local
        self._check_url = check_url

    def hidden_paths(self, config: LocalServerConfig) -> tuple[str, ...]:
        return self._local.hidden_paths(config)

    def check(self, config: LocalServerConfig | RemoteServerConfig) -> RunConditions | None:
        """Raise InvalidConfig when not allowed; local configs also get how they would run."""
        if isinstance(config, LocalServerConfig):
            return self._local.check(config)
        try:
            self._check_url(config.url)
        except ValueError as exc:
            raise InvalidConfig.single("url", str(exc)) from None
        return None
