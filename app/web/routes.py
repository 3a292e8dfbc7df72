"""The ASGI app: Slack events (HTTP mode) plus Plugboard's own routes."""

from __future__ import annotations

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.services.oauth_flows import OAuthFlows
from app.web.oauth_pages import oauth_routes


def build_asgi(app: AsyncApp, flows: OAuthFlows, *, serve_slack_events: bool, secure_cookie: bool) -> Starlette:
    handler = AsyncSlackRequestHandler(app)

    async def slack_events(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [Route("/healthz", healthz, methods=["GET"]), *oauth_routes(flows, secure_cookie=secure_cookie)]
    if serve_slack_events:
        routes.append(Route("/slack/events", slack_events, methods=["POST"]))
    return Starlette(routes=routes)
