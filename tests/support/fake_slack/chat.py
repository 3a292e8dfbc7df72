"""chat.postMessage/postEphemeral/update and response_url hooks (≤5 uses in 30 min)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.support.blockkit import message_problems
from tests.support.fake_slack.records import (
    CONVERSATION_ID_RE,
    RESPONSE_URL_MAX_USES,
    RESPONSE_URL_TTL_SECONDS,
    USER_ID_RE,
    Call,
    ResponseUrl,
    api_error,
    public_message,
)
from tests.support.fake_slack.state import SlackState


class ChatApi(SlackState):
    def new_response_url(self) -> str:
        """A response_url on the fake: ≤5 POSTs within 30 min; bodies land in ``responses[id]``."""
        hook_id = self._alnum(24)
        self._response_urls[hook_id] = ResponseUrl(issued_at=self.clock())
        self.responses[hook_id] = []
        return f"{self.base_url}webhook/{hook_id}"

    @staticmethod
    def response_url_id(url: str) -> str:
        return url.rstrip("/").rsplit("/", 1)[-1]

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"), allow_user=True)
        if channel is None:
            return api_error("channel_not_found")
        error = self._check_message("chat.postMessage", params)
        if error is not None:
            return error
        message = self._store_message(channel, params)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": public_message(message)}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(params.get("channel"), allow_user=False)
        if channel is None:
            return api_error("channel_not_found")
        user = params.get("user")
        if not user or not USER_ID_RE.match(str(user)):
            return api_error("user_not_found")
        error = self._check_message("chat.postEphemeral", params)
        if error is not None:
            return error
        message = self._store_message(channel, params, ephemeral_user=str(user))
        return {"ok": True, "message_ts": message["ts"]}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel"), params.get("ts")
        if not channel or not ts:
            return api_error("invalid_arguments", ["[ERROR] channel and ts are required"])
        message = next(
            (m for m in self.messages if m["channel"] == channel and m["ts"] == ts and not m.get("ephemeral_user")),
            None,
        )
        if message is None:
            return api_error("message_not_found" if CONVERSATION_ID_RE.match(str(channel)) else "channel_not_found")
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
            "message": public_message(message),
        }

    def _check_message(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        text, blocks = params.get("text"), params.get("blocks")
        if method != "chat.update" and not text and not blocks and not params.get("attachments"):
            self.problems.append(f"{method}: neither text nor blocks")
            return api_error("no_text")
        if blocks is not None and not isinstance(blocks, list):
            self.problems.append(f"{method}: blocks is not a JSON array")
            return api_error("invalid_blocks_format")
        problems = message_problems(text=text, blocks=blocks)
        if not problems:
            return None
        self.problems.extend(f"{method}: {p}" for p in problems)
        if isinstance(text, str) and len(text) > 40_000 and all(p.startswith("text") for p in problems):
            return api_error("msg_too_long")
        return api_error("invalid_blocks", [f"[ERROR] {p}" for p in problems])

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
        peer = request.transport.get_extra_info("peername") if request.transport else None
        where = f"{peer[0]}:{peer[1]}" if peer else ""
        await self._record(Call("response_url", params, headers, path=request.path, status=status, peer=where))
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
