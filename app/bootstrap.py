"""The only module that picks concrete classes and wires them together."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from app.runtime.launcher import DirectLauncher, ServerFolders
from app.runtime.server_actor import ActorTimings
from app.runtime.session_manager import SessionManager
from app.runtime.tool_registry import ToolRegistry
from app.security.crypto import Keyring, SecretBox
from app.services.server_service import ServerService
from app.services.tool_service import ToolService
from app.settings import Settings
from app.slack.listeners import register_listeners
from app.store.audit_log import AuditLog
from app.store.config_mirror import ConfigMirror
from app.store.database import Database
from app.store.server_repository import ServerRepository
from app.web.routes import build_asgi

log = logging.getLogger(__name__)


@dataclass
class Plugboard:
    settings: Settings
    db: Database
    sessions: SessionManager
    servers: ServerService
    tools: ToolService
    bolt: AsyncApp
    asgi: Starlette

    async def restore(self) -> int:
        return await self.servers.restore()

    async def close(self) -> None:
        """Stop every server (no child survives) and close the database."""
        await self.sessions.close()
        await self.db.close()


async def build(settings: Settings) -> Plugboard:
    data_dir = settings.plugboard_data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    keys = settings.plugboard_encryption_keys.get_secret_value() if settings.plugboard_encryption_keys else None
    box = SecretBox(Keyring.load_or_create(keys, data_dir))
    db = await Database.open(data_dir / "plugboard.sqlite3")
    repo = ServerRepository(db, box)
    audit = AuditLog(db)
    registry = ToolRegistry()
    timings = ActorTimings(
        connect_timeout=settings.plugboard_connect_timeout,
        request_timeout=settings.plugboard_request_timeout,
        restart_backoff=settings.plugboard_restart_backoff,
    )
    sessions = SessionManager(DirectLauncher(ServerFolders(data_dir), settings.plugboard_child_path), registry, timings)
    servers = ServerService(db, repo, audit, ConfigMirror(data_dir), sessions, registry)
    tools = ToolService(db, repo, sessions, registry, audit)

    assert settings.slack_bot_token is not None, "checked by Settings.missing() before build()"
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.api_url())
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    bolt = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        # Socket Mode requests are not signed; HTTP mode always verifies signatures.
        request_verification_enabled=not settings.socket_mode,
    )
    register_listeners(bolt, servers, tools, settle_timeout=settings.plugboard_confirm_wait)
    asgi = build_asgi(bolt, serve_slack_events=not settings.socket_mode)
    return Plugboard(settings, db, sessions, servers, tools, bolt, asgi)
