"""A local fake of the Slack Web API (plus files.slack.com and response_url hooks) for integration tests.

Run it inside the test's event loop and point the app's ``AsyncWebClient`` at it::

    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        ...
        call = await slack.wait_for("views.open")
        assert slack.problems == []

It enforces the Slack rules an app can get wrong (docs: reference slack.md §1.4-§1.7, §4): bearer token,
single-use trigger_ids that expire after 3 s, Block Kit validation on every ``views.*`` / ``chat.*`` /
response_url call (via :mod:`tests.support.blockkit`), modal stack depth, view hash conflicts, the
``files_upload_v2`` three-step dance with ``channel_id`` format checks, and private file downloads that
need the bot token (else a 200 HTML sign-in page, as real Slack does).

Recording: every HTTP request that reaches the fake is appended to :attr:`FakeSlack.calls` as a
:class:`Call`. Web API calls use the API method name (``"views.open"``); the other routes use
``"upload"`` (raw POST to an ``upload_url``), ``"download"`` (``/files-pri/...``) and ``"response_url"``.
Structured params that Slack takes as JSON strings in form bodies (``view``, ``blocks``, ``attachments``,
``files``, ``metadata``, ``message``) are recorded decoded, so ``call.params["view"]["blocks"]`` works for
JSON and form requests alike.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import random
import re
import string
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from tests.support.blockkit import message_problems, view_problems
from tests.support.slack_payloads import (
    API_APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    USER_ID,
    dm_channel_id,
)

TRIGGER_TTL_SECONDS = 3.0
RESPONSE_URL_TTL_SECONDS = 30 * 60.0
RESPONSE_URL_MAX_USES = 5
MODAL_STACK_MAX = 3
UPLOAD_CHANNEL_ID_RE = re.compile(r"^[CGDZ][A-Z0-9]{8,}$")
USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
CONVERSATION_ID_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")
JSON_PARAMS = ("view", "blocks", "attachments", "files", "metadata", "message")

SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Slack</title></head>"
    "<body><h1>Sign in to Plugboard Test</h1><form action='/signin'></form></body></html>"
)

Handler = Callable[[dict[str, Any]], "dict[str, Any] | Awaitable[dict[str, Any]]"]


@dataclass
class Call:
    """One request the fake received.

    Web API calls carry the JSON answer in ``response`` (so ``ok``/``error`` work). The other routes
    (``"upload"``, ``"download"``, ``"response_url"``) have ``response=None``: look at ``status`` instead.
    """

    method: str
    params: dict[str, Any]
    headers: dict[str, str]  # lower-cased names
    http_method: str = "POST"
    path: str = ""
    response: dict[str, Any] | None = None  # the JSON we answered (Web API calls only)
    status: int = 200

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return None if self.response is None or self.response.get("ok") else self.response.get("error")


@dataclass
class UploadedFile:
    """A file the app shared through ``files.getUploadURLExternal`` → upload → ``completeUploadExternal``."""

    file_id: str
    filename: str
    title: str | None
    content: bytes
    channel_id: str | None
    initial_comment: str | None = None
    thread_ts: str | None = None

    @property
    def text(self) -> str:
        return self.content.decode()


@dataclass
class _Trigger:
    issued_at: float
    user_id: str
    used: bool = False


@dataclass
class _ResponseUrl:
    issued_at: float
    uses: int = 0


@dataclass
class _StoredFile:
    obj: dict[str, Any]
    content: bytes


@dataclass
class _PendingUpload:
    file_id: str
    filename: str
    length: int
    token: str
    content: bytes | None = None


@dataclass
class _Failure:
    error: str
    times: int
    extra: dict[str, Any] = field(default_factory=dict)


class FakeSlack:
    """Fake Slack on ``127.0.0.1:<ephemeral port>``; use as ``async with FakeSlack() as slack``."""

    bot_token = "xoxb-test-fake"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        team_id: str = TEAM_ID,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        seed: int = 0,
    ) -> None:
        self.clock = clock
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self._rng = random.Random(seed)
        self._ts_counter = 0

        self.calls: list[Call] = []
        self.problems: list[str] = []  # every Block Kit / view / upload rule the app broke
        self.errors: list[tuple[str, str]] = []  # (method, error) for every ok:false API answer
        self.views: dict[str, dict[str, Any]] = {}  # view id -> view as Slack returned it last
        self.homes: dict[str, dict[str, Any]] = {}  # user id -> published Home tab view
        self.messages: list[dict[str, Any]] = []  # chat.postMessage / postEphemeral / file shares
        self.users: dict[str, dict[str, Any]] = {}
        self.uploaded_files: list[UploadedFile] = []
        self.responses: dict[str, list[dict[str, Any]]] = {}  # response_url id -> JSON bodies posted
        self.base_url = ""
        self.api_url = ""

        self._triggers: dict[str, _Trigger] = {}
        self._stacks: dict[str, list[str]] = {}  # user id -> modal view ids, root first
        self._view_owner: dict[str, str] = {}
        self._files: dict[str, _StoredFile] = {}
        self._pending: dict[str, _PendingUpload] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._failures: dict[str, _Failure] = {}
        self._custom: dict[str, Handler] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
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
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "files.info": self._files_info,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

    # ------------------------------------------------------------------------------------------------------
    # lifecycle

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
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/"
        self.api_url = f"{self.base_url}api/"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------------------------------------------
    # test-side helpers

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

        try:
            async with asyncio.timeout(timeout), self._changed:
                found = await self._changed.wait_for(find)
                assert found is not None
                return found
        except TimeoutError:
            recorded = [c.method if c.response is None or c.ok else f"{c.method} ({c.error})" for c in self.calls]
            raise AssertionError(
                f"no {method!r} call{' matching the predicate' if predicate else ''} within {timeout}s "
                f"(after index {after}); recorded: {recorded}; problems: {self.problems}"
            ) from None

    def issue_trigger_id(self, user_id: str = USER_ID) -> str:
        """A fresh trigger_id as in an interaction payload: single use, valid for 3 s of ``clock``."""
        trigger_id = f"{self._rng.randrange(10**12, 10**13)}.{self._rng.randrange(10**12, 10**13)}.{self._hex(32)}"
        self._triggers[trigger_id] = _Trigger(issued_at=self.clock(), user_id=user_id)
        return trigger_id

    def new_response_url(self) -> str:
        """A response_url on the fake: ≤5 POSTs within 30 min; bodies land in ``responses[id]``."""
        hook_id = self._alnum(24)
        self._response_urls[hook_id] = _ResponseUrl(issued_at=self.clock())
        self.responses[hook_id] = []
        return f"{self.base_url}webhook/{hook_id}"

    @staticmethod
    def response_url_id(url: str) -> str:
        return url.rstrip("/").rsplit("/", 1)[-1]

    def add_file(
        self,
        name: str,
        content: bytes,
        mimetype: str = "application/json",
        *,
        user_id: str = USER_ID,
        title: str | None = None,
    ) -> dict[str, Any]:
        """Pre-register a file a user uploaded; returns the file object as in a file_input submission."""
        file_id = self._new_id("F")
        obj = self._file_object(file_id, name, title or name, mimetype, len(content), user_id)
        self._files[file_id] = _StoredFile(obj=obj, content=content)
        return copy.deepcopy(obj)

    def add_user(self, user_id: str, **fields: Any) -> dict[str, Any]:
        """Register (or override fields of) the user ``users.info`` returns for ``user_id``."""
        user = self._default_user(user_id)
        user.update(fields)
        self.users[user_id] = user
        return user

    def fail_next(self, method: str, error: str, *, times: int = 1, **extra: Any) -> None:
        """Make the next ``times`` calls to ``method`` answer ``{"ok": false, "error": error, **extra}``."""
        self._failures[method] = _Failure(error=error, times=times, extra=extra)

    def on(self, method: str, handler: Handler) -> None:
        """Serve ``method`` (authenticated) with ``handler(params) -> response dict`` (sync or async)."""
        self._custom[method] = handler

    def register_view(self, view: dict[str, Any], *, user_id: str = USER_ID) -> dict[str, Any]:
        """Store ``view`` as if Slack had opened it for ``user_id`` (no validation); returns it with id/hash."""
        stored = self._store_view(view, user_id=user_id)
        self._stacks[user_id] = [stored["id"]]
        return copy.deepcopy(stored)

    def view_stack(self, user_id: str = USER_ID) -> list[dict[str, Any]]:
        return [copy.deepcopy(self.views[v]) for v in self._stacks.get(user_id, [])]

    def close_views(self, user_id: str = USER_ID) -> None:
        """Simulate the user closing the modal (or ``response_action: clear``)."""
        self._stacks.pop(user_id, None)

    def file_content(self, file_id: str) -> bytes:
        return self._files[file_id].content

    def dm_channel(self, user_id: str) -> str:
        return dm_channel_id(user_id)

    # ------------------------------------------------------------------------------------------------------
    # HTTP layer

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        params, bad_json = await self._read_params(request)
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
            return _error("unknown_method")
        if method != "blocks.validate":
            auth_error = self._auth_error(params, headers)
            if auth_error is not None:
                return _error(auth_error)
        failure = self._failures.get(method)
        if failure is not None:
            failure.times -= 1
            if failure.times <= 0:
                del self._failures[method]
            return {"ok": False, "error": failure.error, **failure.extra}
        if bad_json:
            return _error("invalid_json" if "<body>" in bad_json else "invalid_arguments", [f"bad JSON in {bad_json}"])
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

    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    async def _handle_upload(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        pending = next((p for p in self._pending.values() if p.token == token), None)
        if pending is None:
            await self._record(Call("upload", {"token": token}, headers, path=request.path, status=404))
            return web.Response(status=404, text="not found")
        if request.content_type.startswith("multipart/"):
            content = b""
            reader = await request.multipart()
            part = await reader.next()
            if isinstance(part, BodyPartReader):
                content = bytes(await part.read())
        else:
            content = await request.read()
        pending.content = content
        if len(content) != pending.length:
            self.problems.append(
                f"upload: {pending.filename!r} declared length {pending.length} but {len(content)} bytes were sent"
            )
        params = {"file_id": pending.file_id, "filename": pending.filename, "length": len(content)}
        await self._record(Call("upload", params, headers, path=request.path))
        return web.Response(text=f"OK - {len(content)}")

    async def _handle_download(self, request: web.Request) -> web.Response:
        ref = request.match_info["ref"]
        file_id = ref.rsplit("-", 1)[-1]
        headers = {k.lower(): v for k, v in request.headers.items()}
        auth = headers.get("authorization", "")
        authorized = auth.partition(" ")[0].lower() == "bearer" and auth.partition(" ")[2].strip() == self.bot_token
        stored = self._files.get(file_id)
        status = 200 if stored is not None or not authorized else 404
        await self._record(
            Call("download", {"file_id": file_id, "authorized": authorized}, headers, "GET", request.path, None, status)
        )
        if not authorized:
            return web.Response(text=SIGN_IN_PAGE, content_type="text/html")
        if stored is None:
            return web.Response(status=404, text=SIGN_IN_PAGE, content_type="text/html")
        return web.Response(
            body=stored.content,
            content_type=str(stored.obj["mimetype"]),
            headers={"Content-Disposition": f'attachment; filename="{stored.obj["name"]}"'},
        )

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        hook_id = request.match_info["id"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        raw = await request.text()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        params = body if isinstance(body, dict) else {"_raw": raw}
        status, text = self._response_url_result(hook_id, body)
        await self._record(Call("response_url", params, headers, path=request.path, status=status))
        return web.Response(status=status, text=text)

    def _response_url_result(self, hook_id: str, body: Any) -> tuple[int, str]:
        hook = self._response_urls.get(hook_id)
        if hook is None:
            return 404, "no_service"
        if self.clock() - hook.issued_at > RESPONSE_URL_TTL_SECONDS:
            return 404, "expired_url"
        if hook.uses >= RESPONSE_URL_MAX_USES:
            return 404, "used_url"
        if not isinstance(body, dict):
            self.problems.append("response_url: body is not a JSON object")
            return 400, "invalid_payload"
        if not body.get("delete_original"):
            if not body.get("text") and not body.get("blocks") and not body.get("attachments"):
                self.problems.append("response_url: neither text nor blocks")
                return 400, "no_text"
            problems = message_problems(text=body.get("text"), blocks=body.get("blocks"))
            if problems:
                self.problems.extend(f"response_url: {p}" for p in problems)
                return 400, "invalid_blocks"
        hook.uses += 1
        self.responses[hook_id].append(body)
        return 200, "ok"

    # ------------------------------------------------------------------------------------------------------
    # Web API methods

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
            return _error("invalid_arguments", ["exactly one of blocks, message or view is required"])
        if not problems:
            return {"ok": True}
        return {
            "ok": False,
            "error": "invalid_blocks",
            "errors": [{"pointer": "", "code": "invalid", "message": p, "constraint": None} for p in problems],
        }

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        trigger, error = self._check_trigger(params)
        if error is not None:
            return error
        assert trigger is not None
        view, error = self._checked_view("views.open", params, expect_type="modal")
        if error is not None:
            return error
        trigger.used = True
        stored = self._store_view(view, user_id=trigger.user_id)
        self._stacks[trigger.user_id] = [stored["id"]]
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        trigger, error = self._check_trigger(params)
        if error is not None:
            return error
        assert trigger is not None
        view, error = self._checked_view("views.push", params, expect_type="modal")
        if error is not None:
            return error
        stack = self._stacks.setdefault(trigger.user_id, [])
        if len(stack) >= MODAL_STACK_MAX:
            return _error("push_limit_reached")
        trigger.used = True
        previous = stack[-1] if stack else None
        stored = self._store_view(
            view, user_id=trigger.user_id, root_view_id=stack[0] if stack else None, previous_view_id=previous
        )
        stack.append(stored["id"])
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if not view_id and not external_id:
            return _error("invalid_arguments", ["[ERROR] one of view_id or external_id is required"])
        current = self.views.get(str(view_id)) if view_id else None
        if current is None and external_id:
            current = next((v for v in self.views.values() if v.get("external_id") == external_id), None)
        if current is None:
            return _error("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            return _error("hash_conflict")
        view, error = self._checked_view("views.update", params, expect_type=str(current["type"]))
        if error is not None:
            return error
        stored = self._store_view(
            view,
            user_id=self._view_owner.get(current["id"], USER_ID),
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = params.get("user_id")
        if not user_id:
            return _error("invalid_arguments", ["[ERROR] missing required field: user_id"])
        if not USER_ID_RE.match(str(user_id)):
            return _error("user_not_found")
        current = self.homes.get(str(user_id))
        if params.get("hash") and current is not None and params["hash"] != current["hash"]:
            return _error("hash_conflict")
        view, error = self._checked_view("views.publish", params, expect_type="home")
        if error is not None:
            return error
        stored = self._store_view(view, user_id=str(user_id), view_id=current["id"] if current else None)
        self.homes[str(user_id)] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"), allow_user=True)
        if channel is None:
            return _error("channel_not_found")
        error = self._check_message("chat.postMessage", params)
        if error is not None:
            return error
        message = self._store_message(channel, params)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": _public_message(message)}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"), allow_user=False)
        if channel is None:
            return _error("channel_not_found")
        user = params.get("user")
        if not user or not USER_ID_RE.match(str(user)):
            return _error("user_not_found")
        error = self._check_message("chat.postEphemeral", params)
        if error is not None:
            return error
        message = self._store_message(channel, params, ephemeral_user=str(user))
        return {"ok": True, "message_ts": message["ts"]}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel"), params.get("ts")
        if not channel or not ts:
            return _error("invalid_arguments", ["[ERROR] channel and ts are required"])
        message = next(
            (m for m in self.messages if m["channel"] == channel and m["ts"] == ts and not m.get("ephemeral_user")),
            None,
        )
        if message is None:
            return _error("message_not_found" if CONVERSATION_ID_RE.match(str(channel)) else "channel_not_found")
        error = self._check_message("chat.update", params)
        if error is not None:
            return error
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                message[key] = self._with_generated_ids(params[key]) if key == "blocks" else params[key]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message.get("text", ""),
            "message": _public_message(message),
        }

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            existing = str(params["channel"])
            if not CONVERSATION_ID_RE.match(existing):
                return _error("channel_not_found")
            return {"ok": True, "channel": {"id": existing}}
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            return _error("users_list_not_supplied")
        if any(not USER_ID_RE.match(u) for u in users):
            return _error("user_not_found")
        if len(users) > 8:
            return _error("too_many_users")
        channel_id = dm_channel_id(",".join(sorted(users)))
        if len(users) > 1:
            channel_id = "G" + channel_id[1:]  # a multi-person DM
        channel: dict[str, Any] = {"id": channel_id}
        if str(params.get("return_im", "")).lower() in ("1", "true") and len(users) == 1:
            channel.update({"created": int(time.time()), "is_im": True, "is_org_shared": False, "user": users[0]})
        return {"ok": True, "no_op": False, "already_open": False, "channel": channel}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("user") or "")
        if not USER_ID_RE.match(user_id):
            return _error("user_not_found")
        return {"ok": True, "user": copy.deepcopy(self.users.get(user_id) or self._default_user(user_id))}

    def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params.get("file")
        if not file_id:
            return _error("invalid_arguments", ["[ERROR] missing required field: file"])
        stored = self._files.get(str(file_id))
        if stored is None:
            return _error("file_not_found")
        return {
            "ok": True,
            "file": copy.deepcopy(stored.obj),
            "content": "",
            "is_truncated": False,
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    def _files_get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = params.get("filename")
        try:
            length = int(params.get("length", ""))
        except (TypeError, ValueError):
            length = -1
        if not filename or length < 1:
            return _error("invalid_arguments", ["[ERROR] filename and a positive length are required"])
        file_id = self._new_id("F")
        token = self._alnum(40)
        self._pending[file_id] = _PendingUpload(file_id=file_id, filename=str(filename), length=length, token=token)
        return {"ok": True, "upload_url": f"{self.base_url}upload/v1/{token}", "file_id": file_id}

    def _files_complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) and f.get("id") for f in files):
            return _error("invalid_arguments", ["[ERROR] files must be a JSON array of {id, title}"])
        channel_id = params.get("channel_id")
        channels = [c for c in str(params.get("channels") or "").split(",") if c]
        targets = ([str(channel_id)] if channel_id else []) + channels
        bad = [c for c in targets if not UPLOAD_CHANNEL_ID_RE.match(c)]
        if bad:
            return _error(
                "invalid_arguments",
                [f"[ERROR] failed to match all allowed schemas [json-pointer:/channel_id] ({bad[0]!r})"],
            )
        pending = []
        for item in files:
            upload = self._pending.get(str(item["id"]))
            if upload is None or upload.content is None:
                return _error("file_not_found")
            pending.append((upload, item))
        shared = []
        for upload, item in pending:
            del self._pending[upload.file_id]
            content = upload.content or b""
            title = item.get("title") or upload.filename
            obj = self._file_object(
                upload.file_id, upload.filename, title, _guess_mimetype(upload.filename), len(content), self.bot_user_id
            )
            self._files[upload.file_id] = _StoredFile(obj=obj, content=content)
            recipients: list[str | None] = [*targets] or [None]  # None: uploaded but not shared
            for target in recipients:
                self.uploaded_files.append(
                    UploadedFile(
                        file_id=upload.file_id,
                        filename=upload.filename,
                        title=item.get("title"),
                        content=content,
                        channel_id=target,
                        initial_comment=params.get("initial_comment"),
                        thread_ts=params.get("thread_ts"),
                    )
                )
            shared.append(obj)
        for target in targets:
            self._store_message(
                target,
                {"text": params.get("initial_comment") or "", "thread_ts": params.get("thread_ts")},
                files=shared,
            )
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in shared]}

    # ------------------------------------------------------------------------------------------------------
    # rules

    def _check_trigger(self, params: dict[str, Any]) -> tuple[_Trigger | None, dict[str, Any] | None]:
        trigger_id = params.get("trigger_id")
        if not trigger_id:
            return None, _error("invalid_arguments", ["[ERROR] missing required field: trigger_id"])
        trigger = self._triggers.get(str(trigger_id))
        if trigger is None:
            return None, _error("invalid_trigger_id")
        if trigger.used:
            return None, _error("exchanged_trigger_id")
        if self.clock() - trigger.issued_at > TRIGGER_TTL_SECONDS:
            return None, _error("expired_trigger_id")
        return trigger, None

    def _checked_view(
        self, method: str, params: dict[str, Any], *, expect_type: str
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        view = params.get("view")
        if not isinstance(view, dict):
            return {}, _error("invalid_arguments", ["[ERROR] missing required field: view"])
        problems = view_problems(view)
        if view.get("type") != expect_type:
            problems.insert(0, f"view: {method} needs a view of type {expect_type!r}, got {view.get('type')!r}")
        if view.get("external_id"):
            clash = next(
                (v for v in self.views.values() if v.get("external_id") == view["external_id"]),
                None,
            )
            if clash is not None and clash["id"] != params.get("view_id") and method != "views.update":
                return {}, _error("duplicate_external_id")
        if problems:
            self.problems.extend(f"{method}: {p}" for p in problems)
            error = "view_too_large" if any("view_too_large" in p for p in problems) else "invalid_arguments"
            return {}, _error(error, [f"[ERROR] {p}" for p in problems])
        return view, None

    def _check_message(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        text, blocks = params.get("text"), params.get("blocks")
        if method != "chat.update" and not text and not blocks and not params.get("attachments"):
            self.problems.append(f"{method}: neither text nor blocks")
            return _error("no_text")
        if blocks is not None and not isinstance(blocks, list):
            self.problems.append(f"{method}: blocks is not a JSON array")
            return _error("invalid_blocks_format")
        problems = message_problems(text=text, blocks=blocks)
        if not problems:
            return None
        self.problems.extend(f"{method}: {p}" for p in problems)
        if isinstance(text, str) and len(text) > 40_000 and all(p.startswith("text") for p in problems):
            return _error("msg_too_long")
        return _error("invalid_blocks", [f"[ERROR] {p}" for p in problems])

    def _resolve_channel(self, channel: Any, *, allow_user: bool) -> str | None:
        if not channel:
            return None
        channel = str(channel)
        if allow_user and USER_ID_RE.match(channel):
            return dm_channel_id(channel)
        return channel if CONVERSATION_ID_RE.match(channel) else None

    # ------------------------------------------------------------------------------------------------------
    # storage

    def _store_view(
        self,
        view: dict[str, Any],
        *,
        user_id: str,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> dict[str, Any]:
        vid = view_id or self._new_id("V")
        stored = {
            "id": vid,
            "team_id": self.team_id,
            "type": view.get("type"),
            "blocks": self._with_generated_ids(view.get("blocks") or []),
            "private_metadata": view.get("private_metadata") or "",
            "callback_id": view.get("callback_id") or "",
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{self._alnum(8, lower=True)}",
            "title": copy.deepcopy(view.get("title")),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": copy.deepcopy(view.get("close")),
            "submit": copy.deepcopy(view.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or vid,
            "app_id": API_APP_ID,
            "external_id": view.get("external_id") or "",
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[vid] = stored
        self._view_owner[vid] = user_id
        return stored

    def _store_message(
        self,
        channel: str,
        params: dict[str, Any],
        *,
        ephemeral_user: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "ts": self._next_ts(),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": API_APP_ID,
            "team": self.team_id,
            "text": params.get("text") or "",
        }
        if params.get("blocks") is not None:
            message["blocks"] = self._with_generated_ids(params["blocks"])
        for key in ("attachments", "metadata", "thread_ts"):
            if params.get(key) is not None:
                message[key] = params[key]
        if ephemeral_user is not None:
            message["ephemeral_user"] = ephemeral_user
        if files is not None:
            message["files"] = copy.deepcopy(files)
            message["upload"] = True
        self.messages.append(message)
        return message

    def _with_generated_ids(self, blocks: Any) -> Any:
        """Deep copy of ``blocks`` with block_id / action_id filled in where missing, as Slack does."""
        blocks = copy.deepcopy(blocks)
        if not isinstance(blocks, list):
            return blocks
        for block in blocks:
            if not isinstance(block, dict):
                continue
            block.setdefault("block_id", self._alnum(5, lower=True))
            elements: list[Any] = []
            if isinstance(block.get("element"), dict):
                elements.append(block["element"])
            if isinstance(block.get("accessory"), dict):
                elements.append(block["accessory"])
            if block.get("type") == "actions" and isinstance(block.get("elements"), list):
                elements.extend(block["elements"])
            for element in elements:
                if isinstance(element, dict) and element.get("type") not in ("image", "plain_text", "mrkdwn"):
                    element.setdefault("action_id", self._alnum(5, lower=True))
        return blocks

    def _file_object(
        self, file_id: str, name: str, title: str, mimetype: str, size: int, user_id: str
    ) -> dict[str, Any]:
        now = int(time.time())
        filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        url = f"{self.base_url}files-pri/{self.team_id}-{file_id}/download/{quote(name)}"
        return {
            "id": file_id,
            "created": now,
            "timestamp": now,
            "name": name,
            "title": title,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": filetype.upper(),
            "user": user_id,
            "user_team": self.team_id,
            "editable": False,
            "size": size,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{self.base_url}files-pri/{self.team_id}-{file_id}/{quote(name)}",
            "url_private_download": url,
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{user_id}/{file_id}/{quote(name)}",
            "permalink_public": f"https://slack-files.com/{self.team_id}-{file_id}-{self._hex(10)}",
            "has_rich_preview": False,
            "file_access": "visible",
        }

    def _default_user(self, user_id: str) -> dict[str, Any]:
        name = f"user.{user_id.lower()}"
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": f"Test User {user_id}",
            "tz": "Europe/Berlin",
            "tz_label": "Central European Time",
            "tz_offset": 3600,
            "profile": {
                "real_name": f"Test User {user_id}",
                "display_name": name,
                "email": f"{name}@example.com",
                "team": self.team_id,
            },
            "is_admin": False,
            "is_owner": False,
            "is_bot": False,
            "is_app_user": False,
            "updated": int(time.time()),
        }

    def _new_id(self, prefix: str) -> str:
        return prefix + self._alnum(10)

    def _alnum(self, n: int, *, lower: bool = False) -> str:
        alphabet = string.ascii_letters + string.digits if lower else string.ascii_uppercase + string.digits
        return "".join(self._rng.choice(alphabet) for _ in range(n))

    def _hex(self, n: int) -> str:
        return "".join(self._rng.choice("0123456789abcdef") for _ in range(n))

    def _next_ts(self) -> str:
        self._ts_counter += 1
        return f"{int(time.time())}.{self._ts_counter:06d}"


def _error(error: str, messages: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error": error}
    if messages:
        body["response_metadata"] = {"messages": messages}
    return body


def _public_message(message: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in message.items() if k not in ("channel", "ephemeral_user")}


def _guess_mimetype(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return {
        "json": "application/json",
        "txt": "text/plain",
        "md": "text/markdown",
        "csv": "text/csv",
        "png": "image/png",
    }.get(ext, "application/octet-stream")
