"""The real app, built by bootstrap, in HTTP mode, talking to a FakeSlack; requests are signed like Slack's."""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from pydantic import SecretStr

from app.bootstrap import Plugboard, build
from app.settings import Settings
from tests.support import slack_payloads as payloads
from tests.support.fake_slack import Call, FakeSlack

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
REPO_ROOT = Path(__file__).resolve().parents[2]


def visible_test_paths() -> list[str]:
    """What test servers need to see inside the sandbox: the interpreter, the venv and tests/servers."""
    import sys

    paths = {
        sys.base_prefix,
        sys.prefix,
        str(REPO_ROOT / "tests" / "servers"),
        str(Path(sys.executable).resolve().parent),
    }
    return sorted(str(Path(p).resolve()) for p in paths)


def policy_toml(mode: str = "sandboxed", extra: str = "") -> str:
    paths = ", ".join(json.dumps(p) for p in visible_test_paths())
    # Each app gets uids of its own: two apps sharing a uid would share its RLIMIT_NPROC (and its processes).
    uid_base = random.randrange(300_000, 4_000_000, 1_000)
    return (
        f'[local_servers]\nmode = "{mode}"\nread_only_paths = [{paths}]\n'
        f"uid_base = {uid_base}\nuid_count = 1000\n{extra}"
    )


ACK_LIMIT_SECONDS = 3.0


def settings_for_tests(data_dir: Path, slack: FakeSlack, *, policy: str | None = None, **overrides: Any) -> Settings:
    policy_file = data_dir.parent / f"{data_dir.name}-policy.toml"
    policy_file.write_text(policy if policy is not None else policy_toml())
    values: dict[str, Any] = {
        "plugboard_policy_file": policy_file,
        "slack_bot_token": SecretStr(slack.bot_token),
        "slack_signing_secret": SecretStr(SIGNING_SECRET),
        "slack_api_url": slack.api_url,
        "plugboard_data_dir": data_dir,
        "plugboard_connect_timeout": 20.0,
        "plugboard_request_timeout": 20.0,
        "plugboard_restart_backoff": 0.05,
        "plugboard_confirm_wait": 30.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass
class Harness:
    slack: FakeSlack
    app: Plugboard
    http: httpx2.AsyncClient
    data_dir: Path
    ack_seconds: list[float] = field(default_factory=list)

    @classmethod
    @asynccontextmanager
    async def running(cls, data_dir: Path, **overrides: Any) -> AsyncIterator[Harness]:
        async with FakeSlack() as slack:
            async with cls.app_on(data_dir, slack, **overrides) as harness:
                yield harness
            assert slack.problems == [], f"the app broke Slack's rules: {slack.problems}"

    @classmethod
    @asynccontextmanager
    async def app_on(cls, data_dir: Path, slack: FakeSlack, **overrides: Any) -> AsyncIterator[Harness]:
        app = await build(settings_for_tests(data_dir, slack, **overrides))
        transport = httpx2.ASGITransport(app=app.asgi)
        try:
            async with httpx2.AsyncClient(transport=transport, base_url="http://plugboard.test") as http:
                yield cls(slack, app, http, data_dir)
        finally:
            await app.close()

    def user(self, user_id: str = payloads.USER_ID, team_id: str = payloads.TEAM_ID) -> SlackUser:
        return SlackUser(self, user_id, team_id)

    async def post(
        self,
        body: str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        headers: dict[str, str] | None = None,
    ) -> httpx2.Response:
        """POST a signed ``body`` to /slack/events; ``headers`` are added (e.g. ``payloads.retry_headers()``)."""
        headers = {**payloads.sign(body, SIGNING_SECRET), **(headers or {})}
        headers["content-type"] = content_type
        started = time.monotonic()
        response = await self.http.post("/slack/events", content=body, headers=headers)
        elapsed = time.monotonic() - started
        self.ack_seconds.append(elapsed)
        assert elapsed < ACK_LIMIT_SECONDS, f"Slack needs an answer within 3 s; took {elapsed:.2f} s"
        return response

    async def redeliver(self, sent: SentEvent, retry_num: int = 1, reason: str = "http_timeout") -> httpx2.Response:
        """Slack delivering the same event again (same ``event_id``) with ``X-Slack-Retry-Num``/``-Reason``."""
        response = await self.post(
            sent.body, content_type="application/json", headers=payloads.retry_headers(retry_num, reason)
        )
        assert response.status_code == 200, response.text
        return response


@dataclass
class SentEvent:
    """An Events API callback a test posted: the raw signed ``body`` (to redeliver) and its inner ``event``."""

    body: str
    event: dict[str, Any]
    event_id: str

    @property
    def channel(self) -> str:
        return str(self.event["channel"])

    @property
    def ts(self) -> str:
        return str(self.event["ts"])

    @property
    def thread_ts(self) -> str:
        """The thread the app should answer in: the message's thread, or the message itself when top level."""
        return str(self.event.get("thread_ts") or self.event["ts"])


@dataclass
class SlackUser:
    """One person clicking around in Slack."""

    harness: Harness
    user_id: str
    team_id: str
    response_url: str = ""

    @property
    def slack(self) -> FakeSlack:
        return self.harness.slack

    async def command(self, text: str) -> httpx2.Response:
        self.response_url = self.slack.new_response_url()
        body = payloads.slash_command(
            text,
            user_id=self.user_id,
            team_id=self.team_id,
            trigger_id=self.slack.issue_trigger_id(self.user_id),
            response_url=self.response_url,
        )
        response = await self.harness.post(body)
        assert response.status_code == 200, response.text
        return response

    async def reply(
        self, predicate: Callable[[dict[str, Any]], bool] | None = None, *, after: int = 0, timeout: float = 30.0
    ) -> dict[str, Any]:
        """The next message the app sent to this user's latest response_url."""
        hook = FakeSlack.response_url_id(self.response_url)
        call = await self.slack.wait_for(
            "response_url",
            lambda c: c.path.endswith(hook) and c.status == 200 and (predicate is None or predicate(c.params)),
            timeout=timeout,
            after=after,
        )
        return call.params

    async def say(self, text: str, channel: str | None = None, thread_ts: str | None = None) -> SentEvent:
        """Send a message: a DM to the app by default (``message.im``), else a plain message in ``channel``."""
        if channel is None or channel.startswith("D"):
            channel = channel or payloads.dm_channel_id(self.user_id)
            event = payloads.direct_message(text, user_id=self.user_id, channel=channel, thread_ts=thread_ts)
        else:
            event = payloads.channel_message(text, user_id=self.user_id, channel=channel, thread_ts=thread_ts)
        return await self.send_event(event)

    async def mention(self, text: str, channel: str = payloads.CHANNEL_ID, thread_ts: str | None = None) -> SentEvent:
        """``@Plugboard text`` in a channel (``app_mention``), top level or in ``thread_ts``."""
        event = payloads.app_mention(text, user_id=self.user_id, channel=channel, thread_ts=thread_ts)
        return await self.send_event(event)

    async def send_event(self, event: dict[str, Any]) -> SentEvent:
        """Post any inner ``event`` (see slack_payloads builders) as a signed ``event_callback``; Slack needs a 2xx."""
        if event.get("user") == self.user_id and event.get("type") in ("message", "app_mention"):
            self.slack.record_user_message(event)
        body = payloads.event_callback(event, team_id=self.team_id)
        response = await self.harness.post(body, content_type="application/json")
        assert response.status_code == 200, response.text
        return SentEvent(body=body, event=event, event_id=str(json.loads(body)["event_id"]))

    async def open_modal(self, text: str) -> dict[str, Any]:
        mark = self.slack.mark()
        await self.command(text)
        call = await self.slack.wait_for("views.open", after=mark)
        assert call.ok, call.response
        assert call.response is not None
        view: dict[str, Any] = call.response["view"]
        return view

    async def submit(self, view: dict[str, Any], fields: dict[str, str | None]) -> httpx2.Response:
        """Submit a modal's text fields (block_id -> text)."""
        return await self.submit_state(
            view, {block_id: payloads.text_value(value) for block_id, value in fields.items()}
        )

    async def submit_state(self, view: dict[str, Any], state: dict[str, dict[str, Any]]) -> httpx2.Response:
        """Submit a modal with any kind of input (block_id -> the element's state, e.g. `payloads.option_value`);
        every input's action_id is `value`, as Plugboard's modals name them."""
        body = payloads.view_submission(
            view,
            {block_id: {"value": element} for block_id, element in state.items()},
            user_id=self.user_id,
            team_id=self.team_id,
            trigger_id=self.slack.issue_trigger_id(self.user_id),
        )
        response = await self.harness.post(body)
        assert response.status_code == 200, response.text
        return response

    async def click(
        self, message: dict[str, Any], action_id: str, *, value: str | None = None, selected: str | None = None
    ) -> httpx2.Response:
        """Click a button (or pick an overflow option) in a message this user received by response_url."""
        action = find_action(message.get("blocks") or [], action_id, value=value, selected=selected)
        self.response_url = self.slack.new_response_url()
        body = payloads.block_actions(
            action,
            user_id=self.user_id,
            team_id=self.team_id,
            trigger_id=self.slack.issue_trigger_id(self.user_id),
            response_url=self.response_url,
            message={"text": message.get("text", ""), "blocks": message["blocks"]},
        )
        response = await self.harness.post(body)
        assert response.status_code == 200, response.text
        return response

    async def click_in_thread(
        self, message: dict[str, Any], action_id: str, *, value: str | None = None
    ) -> httpx2.Response:
        """Click a button in a message the app posted (or streamed) into a channel or thread."""
        action = find_action(message.get("blocks") or [], action_id, value=value, selected=None)
        shown: dict[str, Any] = {k: message[k] for k in ("text", "blocks", "ts", "thread_ts") if k in message}
        body = payloads.block_actions(
            action,
            user_id=self.user_id,
            team_id=self.team_id,
            trigger_id=self.slack.issue_trigger_id(self.user_id),
            response_url=self.slack.new_response_url(),
            message=shown,
            channel=message["channel"],
        )
        response = await self.harness.post(body)
        assert response.status_code == 200, response.text
        return response

    async def raw_click(self, action: dict[str, Any]) -> httpx2.Response:
        """A block_actions payload with whatever the caller puts in it (tampering tests)."""
        self.response_url = self.slack.new_response_url()
        body = payloads.block_actions(
            action,
            user_id=self.user_id,
            team_id=self.team_id,
            trigger_id=self.slack.issue_trigger_id(self.user_id),
            response_url=self.response_url,
            message={"text": "", "blocks": []},
        )
        return await self.harness.post(body)


def find_action(
    blocks: list[dict[str, Any]], action_id: str, *, value: str | None = None, selected: str | None = None
) -> dict[str, Any]:
    """The `actions[0]` Slack sends when the element `action_id` in `blocks` is clicked (or an option picked)."""
    for block in blocks:
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        for element in elements:
            if element.get("action_id") != action_id:
                continue
            if element.get("type") == "overflow":
                for option in element["options"]:
                    if selected is None or option["value"] == selected:
                        return {
                            "action_id": action_id,
                            "block_id": block.get("block_id", "b"),
                            "type": "overflow",
                            "selected_option": option,
                        }
                continue
            if value is None or element.get("value") == value:
                return {
                    "action_id": action_id,
                    "block_id": block.get("block_id", "b"),
                    "type": element["type"],
                    "value": element.get("value", ""),
                    "text": element.get("text"),
                }
    raise AssertionError(f"no {action_id!r} element in blocks: {json.dumps(blocks)[:500]}")


def text_of(message: dict[str, Any]) -> str:
    """Everything a person would read in a message: its text and the text of its blocks."""
    parts = [message.get("text") or ""]
    for block in message.get("blocks") or []:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"].get("text", ""))
        parts.extend(
            element["text"]
            for element in block.get("elements") or []
            if isinstance(element, dict) and isinstance(element.get("text"), str)
        )
    return "\n".join(parts)


__all__ = ["SIGNING_SECRET", "Call", "Harness", "SentEvent", "SlackUser", "text_of"]
