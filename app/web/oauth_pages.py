"""GET /oauth/start and GET /oauth/callback: the two pages a person sees while connecting a remote server."""

from __future__ import annotations

import asyncio
import html
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from app.services.oauth_flows import OAuthFlows, SignInError

COOKIE = "plugboard_signin"
# Over https the cookie gets the `__Host-` prefix: Secure, no Domain, path `/`, so no other host can set it.
SECURE_COOKIE = "__Host-plugboard_signin"
FINISH_WAIT_SECONDS = 20.0
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        "<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
        "<style>body{font-family:sans-serif;max-width:36em;margin:4em auto;line-height:1.5}"
        "a.button{display:inline-block;padding:.6em 1.2em;background:#4a154b;color:#fff;border-radius:4px;"
        "text-decoration:none}</style></head><body><h1>" + html.escape(title) + "</h1>" + body + "</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=_SECURITY_HEADERS)


def oauth_routes(flows: OAuthFlows, *, secure_cookie: bool) -> list[Route]:
    cookie, cookie_path = (SECURE_COOKIE, "/") if secure_cookie else (COOKIE, "/oauth")

    async def start(request: Request) -> Response:
        state = request.query_params.get("state", "")
        try:
            pending = flows.opened(state, request.cookies.get(cookie))
        except SignInError as exc:
            return _page("Sign-in link not valid", f"<p>{html.escape(str(exc))}</p>", status=400)
        host = urlsplit(pending.authorization_url).hostname or "the authorization server"
        body = (
            f"<p>Connect <b>{html.escape(pending.server_name)}</b> for Slack user "
            f"<b>{html.escape(pending.owner.user_id)}</b>.</p>"
            f"<p>You will sign in at <b>{html.escape(host)}</b> and come back here.</p>"
            f"<p><a class='button' id='continue' href='{html.escape(pending.authorization_url, quote=True)}'>"
            f"Continue to {html.escape(host)}</a></p>"
        )
        response = _page(f"Connect {pending.server_name}", body)
        response.set_cookie(
            cookie,
            pending.browser_key,
            max_age=600,
            path=cookie_path,
            httponly=True,
            samesite="lax",
            secure=secure_cookie,
        )
        return response

    async def callback(request: Request) -> Response:
        params = request.query_params
        try:
            pending = flows.complete(
                params.get("state", ""),
                request.cookies.get(cookie),
                code=params.get("code"),
                iss=params.get("iss"),
                error=params.get("error"),
            )
        except SignInError as exc:
            return _page("Could not connect", f"<p>{html.escape(str(exc))}</p>", status=400)
        # The code is redeemed by the connector task; show its outcome if it is quick.
        try:
            async with asyncio.timeout(FINISH_WAIT_SECONDS):
                problem = await asyncio.shield(pending.finished)
        except TimeoutError:
            problem = None
            note = "<p>Finishing the connection; Slack will tell you when it is ready.</p>"
        else:
            note = ""
        if problem:
            return _page(
                "Could not connect", f"<p>{html.escape(problem)}</p><p>You can try again from Slack.</p>", status=400
            )
        response = _page(
            f"Connected {pending.server_name}",
            f"<p><b>{html.escape(pending.server_name)}</b> is connected. You can close this tab and go back to "
            f"Slack.</p>{note}",
        )
        response.delete_cookie(cookie, path=cookie_path, secure=secure_cookie, httponly=True, samesite="lax")
        return response

    return [Route("/oauth/start", start, methods=["GET"]), Route("/oauth/callback", callback, methods=["GET"])]
