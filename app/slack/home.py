"""App Home: the owner's dashboard of servers, republished whenever they open it or act on it."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from app.domain.owner import Owner
from app.services.server_service import ServerService
from app.slack import ids
from app.slack.blocks.server_list import server_list_blocks


def home_view(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    head: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your MCP servers"}},
        {
            "type": "actions",
            "block_id": "home_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.OPEN_ADD_MODAL,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Add server"},
                },
            ],
        },
        {"type": "divider"},
    ]
    footer: list[dict[str, Any]] = [
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "`/mcp help` lists every command. Tools appear as `server__tool`."}
            ],
        }
    ]
    return {"type": "home", "blocks": (head + blocks + footer)[:100]}


class HomeTab:
    def __init__(self, servers: ServerService) -> None:
        self._servers = servers

    async def opened(self, event: dict[str, Any], context: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") != "home":
            return
        owner = Owner(team_id=context["team_id"], user_id=event["user"], enterprise_id=context.get("enterprise_id"))
        await self.publish(client, owner)

    async def publish(self, client: AsyncWebClient, owner: Owner) -> None:
        items = await self._servers.overview(owner)
        await client.views_publish(user_id=owner.user_id, view=home_view(server_list_blocks(items)))
