"""App Home: the owner's dashboard, republished whenever they open it or act on it."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from app.domain.owner import Owner
from app.services.audit_service import AuditService
from app.services.server_service import ServerService
from app.services.tool_service import ToolService
from app.slack.blocks.home import HomeContent, help_modal, home_view
from app.slack.edge import Event, Request, slack_event, slack_handler

RECENT_AUDIT = 5


class HomeTab:
    def __init__(
        self,
        servers: ServerService,
        tools: ToolService,
        audit: AuditService,
        *,
        assistant_unavailable: str | None = None,
    ) -> None:
        self._assistant_unavailable = assistant_unavailable
        self._servers = servers
        self._tools = tools
        self._audit = audit

    @slack_event
    async def opened(self, event: Event) -> None:
        if event.event.get("tab") != "home":
            return
        await self.publish(event.client, event.owner)

    async def publish(self, client: AsyncWebClient, owner: Owner) -> None:
        content = HomeContent(
            servers=await self._servers.overview(owner),
            attention=[t for t in await self._tools.catalog(owner, include_disabled=True) if not t.allowed],
            audit=await self._audit.recent(owner, RECENT_AUDIT),
            assistant_unavailable=self._assistant_unavailable,
        )
        await client.views_publish(user_id=owner.user_id, view=home_view(content))

    @slack_handler
    async def open_help(self, req: Request) -> None:
        await req.ack()
        await req.client.views_open(trigger_id=req.body["trigger_id"], view=help_modal())
