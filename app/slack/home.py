"""App Home: the owner's dashboard, republished whenever they open it or act on it."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.owner import Owner
from app.services.audit_service import AuditService
from app.services.server_service import ServerService
from app.services.tool_service import ToolService
from app.slack.blocks.home import HomeContent, help_modal, home_view

RECENT_AUDIT = 5


class HomeTab:
    def __init__(self, servers: ServerService, tools: ToolService, audit: AuditService) -> None:
        self._servers = servers
        self._tools = tools
        self._audit = audit

    async def opened(self, event: dict[str, Any], context: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") != "home":
            return
        owner = Owner(team_id=context["team_id"], user_id=event["user"], enterprise_id=context.get("enterprise_id"))
        await self.publish(client, owner)

    async def publish(self, client: AsyncWebClient, owner: Owner) -> None:
        content = HomeContent(
            servers=await self._servers.overview(owner),
            attention=[t for t in self._tools.all_tools(owner) if not t.allowed],
            audit=await self._audit.recent(owner, RECENT_AUDIT),
        )
        await client.views_publish(user_id=owner.user_id, view=home_view(content))

    async def open_help(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=help_modal())
