"""chat.startStream/appendStream/stopStream and assistant.threads.setStatus/setSuggestedPrompts, with Slack's rules.

Sources: the method pages (slack-ruby/slack-api-ref ``docs.slack.dev/methods/chat.*Stream.json``,
``assistant.threads.*.json``), ``slack_sdk/models/messages/chunk.py`` and ../shared/reference/assistant.md §1.5.
Rules taken from live probes reported by other projects rather than the method pages are marked "(observed)":
``markdown_text`` and ``chunks`` in one request → ``cannot_provide_both_markdown_text_and_chunks``; a stream keeps
the mode it opened in → ``streaming_mode_mismatch``; one streamed message holds about 12,000 characters in all
→ ``msg_too_long`` on the append that crosses it.

A streamed message is stored in :attr:`SlackState.messages` like a ``chat.postMessage`` one (``thread_ts``,
``text`` = all markdown so far, ``blocks`` = the blocks given at stop) plus ``chunks`` (every chunk received, in
order) and ``stream_state`` (``"streaming"``, ``"stopped"``, ``"stopped_by_user"`` or ``"expired"``), so a test
reads "the answer in the thread" the same way whether it was streamed or posted and edited.
"""

from __future__ import annotations

import copy
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support.blockkit import MAX_BLOCKS, blocks_problems
from tests.support.fake_slack.records import CONVERSATION_ID_RE, USER_ID_RE, api_error, public_message
from tests.support.fake_slack.state import SlackState
from tests.support.slack_payloads import API_APP_ID

STREAM_MARKDOWN_MAX = 12_000  # per markdown_text argument or markdown_text chunk (method pages)
STREAM_MESSAGE_TEXT_MAX = 12_000  # all markdown of one streamed message (observed; see module docstring)
TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})
TASK_DISPLAY_MODES = frozenset({"timeline", "plan"})
CHUNK_TYPES = ("markdown_text", "task_update", "plan_update", "blocks")
LOADING_MESSAGES_MAX = 10
LOADING_MESSAGE_CHARS = 50
SUGGESTED_PROMPTS_MAX = 4
RATE_WINDOW_SECONDS = 60.0
TS_RE = re.compile(r"^\d+\.\d+$")


@dataclass
class StatusUpdate:
    """One accepted ``assistant.threads.setStatus`` call (``status == ""`` clears the status)."""

    channel_id: str
    thread_ts: str
    status: str
    loading_messages: list[str] = field(default_factory=list)


@dataclass
class SuggestedPrompts:
    """One ``assistant.threads.setSuggestedPrompts`` call that took effect (calls with ``thread_ts`` do not)."""

    channel_id: str
    prompts: list[dict[str, str]]
    title: str | None = None


@dataclass
class RateLimit:
    per_minute: int | None
    retry_after: int
    refuse_next: int = 0
    accepted: deque[float] = field(default_factory=deque)


class StreamApi(SlackState):
    """The agent surfaces: streamed replies in threads, thread status, suggested prompts."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # False = the workspace refuses streaming (Messages tab off, plan without agent features): the app must
        # fall back to chat.postMessage + chat.update.
        self.streaming_enabled = True
        self.stream_text_limit = STREAM_MESSAGE_TEXT_MAX
        self.status_updates: list[StatusUpdate] = []
        self.suggested_prompts: list[SuggestedPrompts] = []
        self.user_messages: list[dict[str, Any]] = []  # messages people sent (tests register them), not the app's
        self._rate_limits: dict[str, RateLimit] = {}
        self._stream_modes: dict[tuple[str, str], str] = {}  # (channel, ts) -> "markdown" | "chunks"

    # --- test-side controls ---------------------------------------------------------------------------------

    def rate_limit(self, method: str, *, per_minute: int, retry_after: int = 1) -> None:
        """Answer HTTP 429 ``ratelimited`` (``Retry-After: retry_after``) past ``per_minute`` calls a minute.

        ``chat.startStream``/``chat.stopStream`` are Tier 2 (20+ a minute per workspace), ``appendStream`` Tier 4.
        The window runs on the fake's ``clock``.
        """
        self._rate_limits[method] = RateLimit(per_minute=per_minute, retry_after=retry_after)

    def rate_limit_next(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls to ``method`` with HTTP 429 ``ratelimited``, whatever the rate."""
        limit = self._rate_limits.setdefault(method, RateLimit(per_minute=None, retry_after=retry_after))
        limit.refuse_next += times
        limit.retry_after = retry_after

    def stop_stream_by_user(self, channel: str, ts: str) -> None:
        """The person pressed "stop" on a streaming reply: further appends answer ``stopped_by_user``."""
        message = self._stream_message(channel, ts)
        assert message is not None, f"no streamed message {ts} in {channel}"
        message["stream_state"] = "stopped_by_user"

    def expire_stream(self, channel: str, ts: str) -> None:
        """Slack gave up on a stream the app left open: further appends/stops answer ``message_not_in_streaming_state``
        (not recorded as a problem); the message keeps its text and ``chat.update`` still edits it."""
        message = self._stream_message(channel, ts)
        assert message is not None, f"no streamed message {ts} in {channel}"
        message["stream_state"] = "expired"

    def record_user_message(self, event: dict[str, Any]) -> None:
        """Remember a message a person sent (the inner ``event`` of a ``message``/``app_mention`` callback)."""
        self.user_messages.append(copy.deepcopy(event))

    # --- test-side reading ------------------------------------------------------------------------------------

    def thread_messages(self, channel: str, thread_ts: str, *, include_ephemeral: bool = False) -> list[dict[str, Any]]:
        """Copies of the app's replies in the thread rooted at ``thread_ts``, oldest first (streamed or posted)."""
        return [
            copy.deepcopy(m)
            for m in self.messages
            if m["channel"] == channel
            and m.get("thread_ts") == thread_ts
            and m["ts"] != thread_ts
            and (include_ephemeral or not m.get("ephemeral_user"))
        ]

    async def wait_for_thread_reply(
        self,
        channel: str,
        thread_ts: str,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,
        *,
        final: bool = True,
    ) -> dict[str, Any]:
        """The first reply of the app in the thread that matches ``predicate`` (a copy); waits for one.

        With ``final`` (the default) a streamed reply only counts once ``chat.stopStream`` made it final, so
        ``text`` is the whole answer; a posted reply counts at once (use ``predicate`` to wait for an edit).
        Raises AssertionError after ``timeout`` seconds, listing the thread.
        """

        def find() -> dict[str, Any] | None:
            for message in self.thread_messages(channel, thread_ts):
                if final and message.get("stream_state") == "streaming":
                    continue
                if predicate is None or predicate(message):
                    return message
            return None

        found = await self._found_within(find, timeout)
        if found is not None:
            return found
        thread = self.thread_messages(channel, thread_ts)
        seen = [(m["ts"], m.get("stream_state"), m.get("text", "")[:80]) for m in thread]
        raise AssertionError(
            f"no {'final ' if final else ''}reply in thread {thread_ts} of {channel}"
            f"{' matching the predicate' if predicate else ''} within {timeout}s; thread: {seen}; "
            f"errors: {self.errors}; problems: {self.problems}"
        )

    def statuses(self, channel: str, thread_ts: str) -> list[str]:
        """Every status set on the thread, in order (``""`` where it was cleared)."""
        return [u.status for u in self.status_updates if u.channel_id == channel and u.thread_ts == thread_ts]

    def stream_tasks(self, channel: str, ts: str) -> dict[str, dict[str, Any]]:
        """The latest state of each ``task_update`` of a streamed message, by task id (later fields win)."""
        message = self._stream_message(channel, ts)
        tasks: dict[str, dict[str, Any]] = {}
        for chunk in (message or {}).get("chunks", []):
            if chunk.get("type") == "task_update":
                tasks.setdefault(chunk["id"], {}).update(copy.deepcopy(chunk))
        return tasks

    def is_streaming(self, channel: str, ts: str) -> bool:
        message = self._stream_message(channel, ts)
        return message is not None and message.get("stream_state") == "streaming"

    # --- rate limits (checked by the HTTP handler before dispatch) ---------------------------------------------

    def _rate_limit_retry_after(self, method: str) -> int | None:
        limit = self._rate_limits.get(method)
        if limit is None:
            return None
        if limit.refuse_next > 0:
            limit.refuse_next -= 1
            return limit.retry_after
        if limit.per_minute is None:
            return None
        now = self.clock()
        while limit.accepted and now - limit.accepted[0] >= RATE_WINDOW_SECONDS:
            limit.accepted.popleft()
        if len(limit.accepted) >= limit.per_minute:
            return limit.retry_after
        limit.accepted.append(now)
        return None

    # --- chat.*Stream -----------------------------------------------------------------------------------------

    def _chat_start_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        method = "chat.startStream"
        channel = params.get("channel")
        if not channel:
            return self._refuse(method, "invalid_arguments", "missing required field: channel")
        if not CONVERSATION_ID_RE.match(str(channel)):
            return api_error("channel_not_found")
        channel = str(channel)
        if not self.streaming_enabled:
            return api_error("messages_tab_disabled")
        thread_ts = params.get("thread_ts")
        if not thread_ts:
            return self._refuse(
                method, "invalid_arguments", "missing required field: thread_ts (a stream must reply in a thread)"
            )
        if not TS_RE.match(str(thread_ts)):
            return self._refuse(method, "invalid_arguments", f"thread_ts {thread_ts!r} is not a message ts")
        if not channel.startswith("D"):
            for key in ("recipient_user_id", "recipient_team_id"):
                if not params.get(key):
                    return self._refuse(method, f"missing_{key}", f"{key} is required when streaming to channels")
            if not USER_ID_RE.match(str(params["recipient_user_id"])):
                return self._refuse(method, "user_not_found", f"recipient_user_id {params['recipient_user_id']!r}")
        mode = params.get("task_display_mode")
        if mode is not None and mode not in TASK_DISPLAY_MODES:
            return self._refuse(method, "invalid_arguments", f"task_display_mode {mode!r} is not timeline/plan")
        error = self._check_stream_content(method, params, None)
        if error is not None:
            return error
        message: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "ts": self._next_ts(),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": API_APP_ID,
            "team": self.team_id,
            "text": "",
            "thread_ts": str(thread_ts),
            "chunks": [],
            "stream_state": "streaming",
        }
        for key in ("recipient_user_id", "recipient_team_id", "task_display_mode"):
            if params.get(key):
                message[key] = params[key]
        self._apply_stream_content(message, params)
        self.messages.append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _chat_append_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        method = "chat.appendStream"
        message, error = self._streaming_message(method, params)
        if error is not None:
            return error
        assert message is not None
        if not _has_markdown(params) and not _has_chunks(params):
            return self._refuse(method, "no_text", "neither markdown_text nor chunks")
        error = self._check_stream_content(method, params, message)
        if error is not None:
            return error
        self._apply_stream_content(message, params)
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    def _chat_stop_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        method = "chat.stopStream"
        message, error = self._streaming_message(method, params)
        if error is not None:
            return error
        assert message is not None
        error = self._check_stream_content(method, params, message)
        if error is not None:
            return error
        blocks = params.get("blocks")
        if blocks is not None:
            if not isinstance(blocks, list):
                return self._refuse(method, "invalid_blocks_format", "blocks is not a JSON array")
            problems = blocks_problems(blocks, surface="message")
            if problems:
                self.problems.extend(f"{method}: {p}" for p in problems)
                error_name = "msg_blocks_too_many" if len(blocks) > MAX_BLOCKS["message"] else "invalid_blocks"
                return api_error(error_name, [f"[ERROR] {p}" for p in problems])
        metadata = params.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str) and "event_payload" in metadata
        ):
            return self._refuse(method, "invalid_metadata_format", "metadata needs event_type and event_payload")
        self._apply_stream_content(message, params)
        if blocks is not None:
            message["blocks"] = self._with_generated_ids(blocks)
        if metadata is not None:
            message["metadata"] = metadata
        message["stream_state"] = "stopped"
        self._stream_modes.pop((message["channel"], message["ts"]), None)
        reply = {k: v for k, v in public_message(message).items() if k not in ("chunks", "stream_state")}
        reply["subtype"] = "bot_message"
        return {"ok": True, "channel": message["channel"], "ts": message["ts"], "message": reply}

    def _streaming_message(
        self, method: str, params: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        channel, ts = params.get("channel"), params.get("ts")
        if not channel or not ts:
            return None, self._refuse(method, "invalid_arguments", "channel and ts are required")
        if not CONVERSATION_ID_RE.match(str(channel)):
            return None, api_error("channel_not_found")
        if any(m.get("channel") == channel and m.get("ts") == ts for m in self.user_messages):
            return None, self._refuse(method, "message_not_owned_by_app", f"{ts} was sent by a person, not the app")
        message = self._stream_message(str(channel), str(ts))
        if message is None:
            return None, self._refuse(method, "message_not_in_streaming_state", f"{ts} is not a streamed message")
        if message["stream_state"] == "stopped_by_user":
            return None, api_error("stopped_by_user")
        if message["stream_state"] == "expired":
            return None, api_error("message_not_in_streaming_state")
        if message["stream_state"] != "streaming":
            return None, self._refuse(method, "message_not_in_streaming_state", f"the stream {ts} was already stopped")
        return message, None

    def _stream_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next(
            (m for m in self.messages if m["channel"] == channel and m["ts"] == ts and "stream_state" in m), None
        )

    def _check_stream_content(
        self, method: str, params: dict[str, Any], message: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """Checks of markdown_text / chunks; ``message`` is the stream being appended to or stopped (None: start)."""
        has_markdown, has_chunks = _has_markdown(params), _has_chunks(params)
        if has_markdown and has_chunks:
            both = "cannot_provide_both_markdown_text_and_chunks"
            return self._refuse(method, both, "markdown_text and chunks in one request")
        current_text = "" if message is None else str(message["text"])
        opened_in = None if message is None else self._stream_modes.get((message["channel"], message["ts"]))
        now_in = "markdown" if has_markdown else "chunks" if has_chunks else None
        if opened_in is not None and now_in is not None and now_in != opened_in:
            return self._refuse(method, "streaming_mode_mismatch", f"stream opened with {opened_in}, now {now_in}")
        markdown = params.get("markdown_text")
        if markdown is not None and not isinstance(markdown, str):
            return self._refuse(method, "invalid_arguments", "markdown_text must be a string")
        if isinstance(markdown, str) and len(markdown) > STREAM_MARKDOWN_MAX:
            too_long = f"markdown_text has {len(markdown)} > {STREAM_MARKDOWN_MAX} characters"
            return self._refuse(method, "msg_too_long", too_long)
        chunks = params.get("chunks")
        if chunks is not None:
            problems = chunk_problems(chunks)
            if problems:
                self.problems.extend(f"{method}: {p}" for p in problems)
                error_name = "invalid_blocks" if all("] blocks: " in p for p in problems) else "invalid_chunks"
                return api_error(error_name, [f"[ERROR] {p}" for p in problems])
        added = len(markdown or "") + sum(
            len(c.get("text", "")) for c in chunks or [] if c.get("type") == "markdown_text"
        )
        if len(current_text) + added > self.stream_text_limit:
            return self._refuse(
                method,
                "msg_too_long",
                f"the streamed message would hold {len(current_text) + added} > {self.stream_text_limit} characters",
            )
        return None

    def _apply_stream_content(self, message: dict[str, Any], params: dict[str, Any]) -> None:
        key = (message["channel"], message["ts"])
        if _has_markdown(params):
            self._stream_modes.setdefault(key, "markdown")
            message["text"] += params["markdown_text"]
        if _has_chunks(params):
            self._stream_modes.setdefault(key, "chunks")
            for chunk in params["chunks"]:
                message["chunks"].append(copy.deepcopy(chunk))
                if chunk["type"] == "markdown_text":
                    message["text"] += chunk["text"]

    # --- assistant.threads.* --------------------------------------------------------------------------------

    def _assistant_set_status(self, params: dict[str, Any]) -> dict[str, Any]:
        method = "assistant.threads.setStatus"
        channel_id, thread_ts, status = params.get("channel_id"), params.get("thread_ts"), params.get("status")
        if not channel_id or not thread_ts or status is None:
            return self._refuse(method, "invalid_arguments", "channel_id, thread_ts and status are required")
        if not CONVERSATION_ID_RE.match(str(channel_id)):
            return api_error("channel_not_found")
        if not TS_RE.match(str(thread_ts)):
            return self._refuse(method, "invalid_thread_ts", f"thread_ts {thread_ts!r}")
        if not isinstance(status, str):
            return self._refuse(method, "invalid_arguments", "status must be a string")
        loading = params.get("loading_messages")
        if loading is not None and (
            not isinstance(loading, list)
            or len(loading) > LOADING_MESSAGES_MAX
            or not all(isinstance(m, str) and 1 <= len(m) <= LOADING_MESSAGE_CHARS for m in loading)
        ):
            return self._refuse(
                method,
                "invalid_arguments",
                f"loading_messages: at most {LOADING_MESSAGES_MAX} strings of 1-{LOADING_MESSAGE_CHARS} chars",
            )
        self.status_updates.append(StatusUpdate(str(channel_id), str(thread_ts), status, list(loading or [])))
        return {"ok": True}

    def _assistant_set_suggested_prompts(self, params: dict[str, Any]) -> dict[str, Any]:
        method = "assistant.threads.setSuggestedPrompts"
        channel_id, prompts = params.get("channel_id"), params.get("prompts")
        if not channel_id or prompts is None:
            return self._refuse(method, "invalid_arguments", "channel_id and prompts are required")
        if not CONVERSATION_ID_RE.match(str(channel_id)):
            return api_error("channel_not_found")
        if (
            not isinstance(prompts, list)
            or not 1 <= len(prompts) <= SUGGESTED_PROMPTS_MAX
            or not all(
                isinstance(p, dict)
                and set(p) == {"title", "message"}
                and all(isinstance(v, str) and v for v in p.values())
                for p in prompts
            )
        ):
            return self._refuse(
                method, "invalid_arguments", f"prompts: 1-{SUGGESTED_PROMPTS_MAX} objects of {{title, message}}"
            )
        if params.get("thread_ts"):
            # Slack answers ok but shows nothing: thread_ts is for legacy assistant_view apps only.
            self.problems.append(f"{method}: thread_ts given; for an agent_view app the call silently fails")
            return {"ok": True}
        title = params.get("title")
        self.suggested_prompts.append(
            SuggestedPrompts(str(channel_id), copy.deepcopy(prompts), title if isinstance(title, str) else None)
        )
        return {"ok": True}

    def _refuse(self, method: str, error: str, problem: str) -> dict[str, Any]:
        """An error caused by the app breaking a rule: answered like Slack and recorded as a problem."""
        self.problems.append(f"{method}: {problem}")
        return api_error(error, [f"[ERROR] {problem}"])


def chunk_problems(chunks: Any) -> list[str]:
    """What Slack would reject in a ``chunks`` array of the streaming methods."""
    if not isinstance(chunks, list):
        return [f"chunks must be a JSON array, got {type(chunks).__name__}"]
    problems: list[str] = []
    for index, chunk in enumerate(chunks):
        at = f"chunks[{index}]"
        if not isinstance(chunk, dict):
            problems.append(f"{at}: must be an object")
            continue
        kind = chunk.get("type")
        if kind not in CHUNK_TYPES:
            problems.append(f"{at}: unknown type {kind!r} (one of {', '.join(CHUNK_TYPES)})")
        elif kind == "markdown_text":
            problems.extend(_text_field(chunk, "text", at, limit=STREAM_MARKDOWN_MAX))
        elif kind == "plan_update":
            problems.extend(_text_field(chunk, "title", at))
        elif kind == "task_update":
            problems.extend(_task_problems(chunk, at))
        elif not isinstance(chunk.get("blocks"), list) or not chunk["blocks"]:
            problems.append(f"{at}: blocks chunk needs a non-empty blocks array")
        else:
            problems.extend(f"{at} blocks: {p}" for p in blocks_problems(chunk["blocks"], surface="message"))
    return problems


def _task_problems(chunk: dict[str, Any], at: str) -> list[str]:
    problems = _text_field(chunk, "id", at) + _text_field(chunk, "title", at)
    if chunk.get("status") not in TASK_STATUSES:
        problems.append(f"{at}: task_update status {chunk.get('status')!r} (one of {sorted(TASK_STATUSES)})")
    for key in ("details", "output"):
        if key in chunk and not isinstance(chunk[key], str):
            problems.append(f"{at}: task_update {key} must be a string")
    sources = chunk.get("sources")
    if sources is not None and not (
        isinstance(sources, list)
        and all(
            isinstance(s, dict) and s.get("type") == "url" and isinstance(s.get("url"), str) and "text" in s
            for s in sources
        )
    ):
        problems.append(f"{at}: task_update sources must be [{{type: 'url', text, url}}]")
    allowed = {"type", "id", "title", "status", "details", "output", "sources"}
    problems.extend(f"{at}: task_update has unknown field {k!r}" for k in sorted(set(chunk) - allowed))
    return problems


def _text_field(chunk: dict[str, Any], key: str, at: str, *, limit: int | None = None) -> list[str]:
    value = chunk.get(key)
    if not isinstance(value, str) or not value:
        return [f"{at}: {chunk.get('type')} needs a non-empty string {key!r}"]
    if limit is not None and len(value) > limit:
        return [f"{at}: {key} has {len(value)} > {limit} characters"]
    return []


def _has_markdown(params: dict[str, Any]) -> bool:
    return bool(params.get("markdown_text"))


def _has_chunks(params: dict[str, Any]) -> bool:
    chunks = params.get("chunks")
    return isinstance(chunks, list) and len(chunks) > 0
