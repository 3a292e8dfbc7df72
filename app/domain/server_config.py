"""Any server config: local (stdio) or remote (HTTP/SSE)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from app.domain.local_config import LocalServerConfig
from app.domain.remote_config import RemoteServerConfig

ServerConfig = Annotated[LocalServerConfig | RemoteServerConfig, Field(discriminator="type")]
_ADAPTER: TypeAdapter[LocalServerConfig | RemoteServerConfig] = TypeAdapter(ServerConfig)


def config_from_public(public: dict[str, Any], secrets: dict[str, str]) -> LocalServerConfig | RemoteServerConfig:
    if public.get("type") == "remote":
        return RemoteServerConfig.from_public(public, secrets)
    return LocalServerConfig.from_public(public, secrets)


def summary(config: LocalServerConfig | RemoteServerConfig) -> str:
    """One line a person recognises the server by: its command line or its URL."""
    if isinstance(config, RemoteServerConfig):
        return config.url
    return config.command_line()
