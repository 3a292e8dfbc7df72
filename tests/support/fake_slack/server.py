"""FakeSlack itself: the HTTP server, the Web API dispatch (auth, injected failures), and the test-side helpers."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.support.blockkit import message_problems, view_problems
from tests.support.fake_slack.chat import ChatApi
from tests.support.fake_slack.files import FilesApi
from tests.support.fake_slack.people import PeopleApi
from tests.support.fake_slack.records import (
    JSON_PARAMS,
    Call,
    Failure,
    Handler,
    api_error,
)
from tests.support.fake_slack.streams import StreamApi
from tests.support.fake_slack.views import ViewsApi
from tests.support.loopback import serve_aiohttp
from tests.support.slack_payloads import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
)


class FakeSlack(ViewsApi, ChatApi, FilesApi, PeopleApi, StreamApi):
    """Fake Slack on ``127.0.0.1:<ephemeral port>``; use as ``async with FakeSlack() as slack``."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        team_id: str = TEAM_ID,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        seed: int = 0,
    ) -> None:
        super().__init__(clock=clock, team_id=team_id, bot_user_id=bot_user_id, bot_id=bot_id, seed=seed)
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "blocks.validate": self._blocks_validate,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
            "assistant.threads.setStatus": self._assistant_set_status,
            "assistant.threads.setSuggestedPrompts": self._assistant_set_suggested_prompts,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "files.info": self._files_info,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/v1/{token}", self._handle_upload)
        app.router.add_get("/files-pri/{ref}/download", self._handle_download)
        app.router.add_get("/files-pri/{ref}/download/{name}", self._handle_download)
        app.router.add_post("/webhook/{id}", self._handle_response_url)
        self._runner, root = await serve_aiohttp(app)
        self.base_url = f"{root}/"
        self.api_url = f"{self.base_url}api/"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def mark(self) -> int:
        """Current number of recorded calls; pass as ``after=`` to :meth:`wait_for` to ignore older calls."""
        return len(self.calls)

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
        *,
        after: int = 0,
    ) -> Call:
        """First recorded call to ``method`` (index ≥ ``after``) matching ``predicate``; waits if none yet.

        Calls that arrived before ``wait_for`` was called count too, so it always returns the *earliest*
        match and calling it twice returns the same call: use ``after=slack.mark()`` (taken before the
        action) or ``after=slack.calls.index(previous) + 1`` to look for a later one. Failed calls
        (``ok: false``) match too -- check ``call.ok`` / ``call.error``. Raises AssertionError after
        ``timeout`` seconds, listing what was recorded.
        """

        def find() -> Call | None:
            for call in self.calls[after:]:
                if call.method == method and (predicate is None or predicate(call)):
                    return call
            return None

        found = await self._found_within(find, timeout)
        if found is not None:
            return found
        recorded = [c.method if c.response is None or c.ok else f"{c.method} ({c.error})" for c in self.calls]
        raise AssertionError(
            f"no {method!r} call{' matching the predicate' if predicate else ''} within {timeout}s "
            f"(after index {after}); recorded: {recorded}; problems: {self.problems}"
        )

    def fail_next(self, method: str, error: str, *, times: int = 1, **extra: Any) -> None:
        """Make the next ``times`` calls to ``method`` answer ``{"ok": false, "error": error, **extra}``."""
        self._failures[method] = Failure(error=error, times=times, extra=extra)

    def on(self, method: str, handler: Handler) -> None:
        """Serve ``method`` (authenticated) with ``handler(params) -> response dict`` (sync or async)."""
        self._custom[method] = handler

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        params, bad_json = await self._read_params(request)
        retry_after = self._rate_limit_retry_after(method)
        if retry_after is not None:  # Slack's rate limiter answers before the method runs, with HTTP 429
            limited = api_error("ratelimited")
            self.errors.append((method, "ratelimited"))
            call = Call(method, params, headers, http_method=request.method, path=request.path, response=limited)
            call.status = 429
            await self._record(call)
            return web.json_response(limited, status=429, headers={"Retry-After": str(retry_after)})
        response = await self._dispatch(method, params, headers, bad_json)
        if not response.get("ok"):
            self.errors.append((method, str(response.get("error"))))
        await self._record(
            Call(method, params, headers, http_method=request.method, path=request.path, response=response)
        )
        return web.json_response(response)

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], list[str]]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    return params, ["<body>"]
                params.update(body)
            else:
                form = await request.post()
                params.update({key: value for key, value in form.items() if isinstance(value, str)})
        bad_json: list[str] = []
        for key in JSON_PARAMS:
            value = params.get(key)
            if isinstance(value, str) and value.strip()[:1] in ("{", "["):
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    bad_json.append(key)
        return params, bad_json

    async def _dispatch(
        self, method: str, params: dict[str, Any], headers: dict[str, str], bad_json: list[str]
    ) -> dict[str, Any]:
        handler = self._custom.get(method) or self._methods.get(method)
        if handler is None:
            return api_error("unknown_method")
        if method != "blocks.validate":
            auth_error = self._auth_error(params, headers)
            if auth_error is not None:
                return api_error(auth_error)
        failure = self._failures.get(method)
        if failure is not None:
            failure.times -= 1
            if failure.times <= 0:
                del self._failures[method]
            return {"ok": False, "error": failure.error, **failure.extra}
        if bad_json:
            return api_error(
                "invalid_json" if "<body>" in bad_json else "invalid_arguments", [f"bad JSON in {bad_json}"]
            )
        result = handler(params)
        if inspect.isawaitable(result):
            result = await result
        assert isinstance(result, dict)
        return result

    def _auth_error(self, params: dict[str, Any], headers: dict[str, str]) -> str | None:
        auth = headers.get("authorization")
        if auth:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer":
                return "invalid_auth"
        else:
            token = str(params.get("token") or "")
        if not token.strip():
            return "not_authed"
        return None if token.strip() == self.bot_token else "invalid_auth"

    def _api_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "args": params}

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Plugboard Test",
            "user": "plugboard",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _blocks_validate(self, params: dict[str, Any]) -> dict[str, Any]:
        if isinstance(params.get("view"), dict):
            problems = view_problems(params["view"])
        elif isinstance(params.get("message"), dict):
            msg = params["message"]
            problems = message_problems(text=msg.get("text"), blocks=msg.get("blocks"))
        elif isinstance(params.get("blocks"), list):
            problems = message_problems(blocks=params["blocks"])
        else:
            return api_error("invalid_arguments", ["exactly one of blocks, message or view is required"])
        if not problems:
            return {"ok": True}
        return {
            "ok": False,
            "error": "invalid_blocks",
            "errors": [{"pointer": "", "code": "invalid", "message": p, "constraint": None} for p in problems],
        }
