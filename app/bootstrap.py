"""The app: the core graph from `app.wiring` (where concrete classes are picked) plus its Slack and web edge."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from app.domain.policy import Policy
from app.runtime.session_manager import SessionManager
from app.services.config_edits import ConfigEdits
from app.services.config_import import ConfigImportService
from app.services.connector_service import ConnectorService
from app.services.server_service import ServerService
from app.services.tool_policy_service import ToolPolicyService
from app.services.tool_service import ToolService
from app.settings import Settings
from app.slack.config_edit_notices import ConfigEditDM
from app.slack.connector_notices import ConnectorDM
from app.slack.listeners import register_listeners
from app.slack.review_message import ReviewMessages
from app.slack.tool_notices import HeldToolsDM
from app.store.database import Database
from app.store.mirror_watcher import MirrorWatcher
from app.store.revocation_signals import RevocationSignals
from app.web.routes import build_asgi
from app.wiring import Core, build_core


@dataclass
class Plugboard:
    """The core (`app.wiring`) with its Slack and web edge and the watcher of the config files on disk."""

    core: Core
    bolt: AsyncApp
    asgi: Starlette
    watcher: MirrorWatcher

    @property
    def settings(self) -> Settings:
        return self.core.settings

    @property
    def policy(self) -> Policy:
        return self.core.policy

    @property
    def db(self) -> Database:
        return self.core.db

    @property
    def sessions(self) -> SessionManager:
        return self.core.sessions

    @property
    def servers(self) -> ServerService:
        return self.core.servers

    @property
    def tools(self) -> ToolService:
        return self.core.tools

    @property
    def tool_policy(self) -> ToolPolicyService:
        return self.core.tool_policy

    @property
    def connectors(self) -> ConnectorService:
        return self.core.connectors

    @property
    def imports(self) -> ConfigImportService:
        return self.core.imports

    async def restore(self) -> int:
        return await self.servers.restore()

    def start_background(self) -> None:
        """The watcher of the config files on disk (Edit Config and admin revocations); close() stops it."""
        self.watcher.start()

    async def close(self) -> None:
        """Stop every server (no child survives) and close the database."""
        await self.watcher.close()
        await self.core.close()


async def build(settings: Settings) -> Plugboard:
    core = await build_core(settings)
    assert settings.slack_bot_token is not None, "checked by Settings.missing() before build()"
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.api_url())
    edits = ConfigEdits(core.imports, core.servers, ConfigEditDM(client, ReviewMessages(core.imports)))
    watcher = MirrorWatcher(core.mirror, RevocationSignals(core.data_dir), edits, max_file_bytes=edits.max_file_bytes)
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    bolt = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        # Socket Mode requests are not signed; HTTP mode always verifies signatures.
        request_verification_enabled=not settings.socket_mode,
    )
    core.tool_policy.notify_with(HeldToolsDM(client))
    core.connectors.notify_with(ConnectorDM(client))
    register_listeners(
        bolt,
        core.servers,
        core.tools,
        core.tool_policy,
        core.audit,
        core.connectors,
        core.imports,
        settle_timeout=settings.plugboard_confirm_wait,
    )
    asgi = build_asgi(
        bolt,
        core.flows,
        serve_slack_events=not settings.socket_mode,
        secure_cookie=settings.public_url.startswith("https://"),
    )
    return Plugboard(core, bolt, asgi, watcher)
