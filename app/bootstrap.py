"""The app: the core graph from `app.wiring` (where concrete classes are picked) plus its Slack and web edge."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from app.domain.policy import Policy
from app.runtime.session_manager import SessionManager
from app.services.assistant_service import NOT_CONFIGURED
from app.services.config_edits import ConfigEdits
from app.services.config_import import ConfigImportService
from app.services.connector_service import ConnectorService
from app.services.server_service import ServerService
from app.services.tool_policy_service import ToolPolicyService
from app.services.tool_service import ToolService
from app.settings import Settings
from app.slack.assistant_views import SlackTurnViews
from app.slack.blocks.config_review import review_fits_in_a_message
from app.slack.config_edit_dm import ConfigEditDM
from app.slack.connector_dm import ConnectorDM
from app.slack.elicitation_dm import ElicitationDM
from app.slack.held_tools_dm import HeldToolsDM
from app.slack.listeners import register_listeners
from app.store.database import Database
from app.store.mirror_watcher import MirrorWatcher
from app.store.revocation_signals import RevocationSignals
from app.web.routes import build_asgi
from app.wiring import Core, build_core

SLACK_CALL_TIMEOUT_SECONDS = 30


@dataclass
class Plugboard:
    """The core (`app.wiring`) with its Slack and web edge and the watcher of the config files on disk."""

    core: Core
    bolt: AsyncApp
    asgi: Starlette
    watcher: MirrorWatcher
    # One HTTP connection pool for every Web API call (Bolt's per-request clients share it too).
    slack_session: aiohttp.ClientSession | None = None

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
        """The watcher of the config files on disk (Edit Config and admin revocations) and the reaper of idle
        servers; close() stops both."""
        self.watcher.start()
        if self.core.assistant is not None:
            self.core.assistant.start_background()
        self.core.sessions.start_reaper()

    async def close(self) -> None:
        """Stop every server (no child survives) and close the database."""
        await self.watcher.close()
        await self.core.close()
        if self.slack_session is not None:
            await self.slack_session.close()


async def build(settings: Settings) -> Plugboard:
    core = await build_core(settings)
    assert settings.slack_bot_token is not None, "checked by Settings.missing() before build()"
    # Without a session of its own, slack_sdk opens a new connection for every call.
    slack_session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLACK_CALL_TIMEOUT_SECONDS))
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.api_url(), session=slack_session
    )
    core.imports.limit_reviews_to(review_fits_in_a_message)  # a review Slack cannot show is never kept
    edits = ConfigEdits(core.imports, core.servers, ConfigEditDM(client))
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
    core.elicitation.notify_with(ElicitationDM(client, minutes=core.elicitation.timeout_minutes))
    assert core.assistant is not None, "build_core always builds the assistant (configured or not)"
    core.assistant.render_with(SlackTurnViews(client))
    register_listeners(
        bolt,
        core.servers,
        core.tools,
        core.tool_policy,
        core.audit,
        core.connectors,
        core.imports,
        settle_timeout=settings.plugboard_confirm_wait,
        elicitation=core.elicitation,
        assistant=core.assistant,
        assistant_unavailable=None if core.assistant.configured else NOT_CONFIGURED,
    )
    asgi = build_asgi(
        bolt,
        core.flows,
        serve_slack_events=not settings.socket_mode,
        secure_cookie=settings.public_url.startswith("https://"),
    )
    return Plugboard(core, bolt, asgi, watcher, slack_session)
