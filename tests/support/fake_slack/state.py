"""The state every Slack surface of the fake shares, and the helpers more than one of them uses."""

from __future__ import annotations

import asyncio
import copy
import random
import string
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from tests.support.fake_slack.records import (
    CONVERSATION_ID_RE,
    USER_ID_RE,
    Call,
    Failure,
    Handler,
    PendingUpload,
    ResponseUrl,
    StoredFile,
    Trigger,
    UploadedFile,
)
from tests.support.slack_payloads import (
    API_APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    dm_channel_id,
)

_Found = TypeVar("_Found")


class SlackState:
    """Everything the fake remembers; the surfaces (views, chat, files, people) are mixins over it."""

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

        self._triggers: dict[str, Trigger] = {}
        self._stacks: dict[str, list[str]] = {}  # user id -> modal view ids, root first
        self._view_owner: dict[str, str] = {}
        self._files: dict[str, StoredFile] = {}
        self._pending: dict[str, PendingUpload] = {}
        self._response_urls: dict[str, ResponseUrl] = {}
        self._failures: dict[str, Failure] = {}
        self._custom: dict[str, Handler] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    async def _found_within(self, find: Callable[[], _Found | None], timeout: float) -> _Found | None:
        """What `find` returns once it finds something (asked again after every recorded change), or None when
        `timeout` seconds pass first."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                return await self._changed.wait_for(find)
        except TimeoutError:
            return None

    def _resolve_channel(self, channel: Any, *, allow_user: bool) -> str | None:
        if not channel:
            return None
        channel = str(channel)
        if allow_user and USER_ID_RE.match(channel):
            return dm_channel_id(channel)
        return channel if CONVERSATION_ID_RE.match(channel) else None

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

    def _new_id(self, prefix: str) -> str:
        return prefix + self._alnum(10)

    def _alnum(self, n: int, *, lower: bool = False) -> str:
        alphabet = string.ascii_letters + string.digits if lower else string.ascii_uppercase + string.digits
        return "".join(self._rng.choice(alphabet) for _ in range(n))

    def _hex(self, n: int) -> str:
        return "".join(self._rng.choice("0123456789abcdef") for _ in range(n))

    def _next_ts(self) -> str:
        # From 500000 up: the payload builders number people's messages from 1, and the two must never collide.
        self._ts_counter += 1
        return f"{int(time.time())}.{500_000 + self._ts_counter:06d}"
