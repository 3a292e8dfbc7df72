"""Request bodies shaped like the ones Slack sends to ``/slack/events``, plus request signing.

Every builder returns the *raw body string* exactly as Slack would POST it (form-encoded for slash commands
and interactivity, JSON for the Events API); sign it with :func:`sign` and post ``content=body``:

    body = slash_command("add", user_id=USER_ID, team_id=TEAM_ID,
                         trigger_id=slack.issue_trigger_id(), response_url=slack.new_response_url())
    await http.post("/slack/events", content=body, headers=sign(body, SIGNING_SECRET))

Shapes follow captured payloads in slackapi/bolt-python ``tests/scenario_tests_async`` (view_submission,
block_actions, slash command, event_callback).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

TEAM_ID = "T0TEST"
TEAM_DOMAIN = "plugboard-test"
USER_ID = "U0TEST"
USER_NAME = "test.user"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
API_APP_ID = "A0TEST"
CHANNEL_ID = "C0TEST00001"
VERIFICATION_TOKEN = "verification-token-fake"  # legacy field Slack still sends; Bolt ignores it

_counter = itertools.count(1)


def sign(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack sends with ``body``: signature, timestamp and the matching content-type.

    ``timestamp`` defaults to now; pass an old one to test Bolt's ±5 minute replay check.
    JSON bodies (Events API) get ``application/json``, everything else form encoding.
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    content_type = "application/json" if body.lstrip().startswith("{") else "application/x-www-form-urlencoded"
    return {"content-type": content_type, "x-slack-request-timestamp": ts, "x-slack-signature": signature}


def slash_command(
    text: str,
    *,
    user_id: str,
    team_id: str,
    trigger_id: str,
    response_url: str,
    channel_id: str = CHANNEL_ID,
    command: str = "/mcp",
    user_name: str = USER_NAME,
    channel_name: str = "general",
    api_app_id: str = API_APP_ID,
) -> str:
    """Form body of a slash command invocation."""
    return urlencode(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": "directmessage" if channel_id.startswith("D") else channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def view_submission(
    view: dict[str, Any],
    values: dict[str, dict[str, dict[str, Any]]],
    *,
    user_id: str,
    team_id: str,
    trigger_id: str,
    view_id: str | None = None,
    private_metadata: str | None = None,
    response_urls: list[dict[str, str]] | None = None,
) -> str:
    """Form body (``payload=<json>``) of a modal submission.

    ``view`` is the view as the app sent it or, better, as Slack returned it (``views.open`` response:
    it carries the real ``id``, ``hash`` and generated block_ids). ``values`` is Slack's
    ``state.values`` shape ``{block_id: {action_id: {...}}}``; the helpers :func:`text_value`,
    :func:`files_value`, :func:`option_value`, :func:`options_value` build the inner dicts and the element
    ``type`` is filled in from the view. Input blocks not mentioned get Slack's "left empty" value
    (``value: None``, ``files: []``…), like a real submission. Unknown block_id/action_id → ``ValueError``
    (the test is out of sync with the view).
    """
    full_view = _view_for_payload(view, team_id=team_id, view_id=view_id, private_metadata=private_metadata)
    full_view["state"] = {"values": _state_values(full_view, values)}
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": full_view,
        "response_urls": response_urls or [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _form(payload)


def view_closed(view: dict[str, Any], *, user_id: str, team_id: str, is_cleared: bool = False) -> str:
    """Form body of ``view_closed`` (only sent for views with ``notify_on_close: true``)."""
    payload = {
        "type": "view_closed",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "view": _view_for_payload(view, team_id=team_id),
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _form(payload)


def block_actions(
    action: dict[str, Any],
    *,
    user_id: str,
    team_id: str,
    trigger_id: str,
    response_url: str | None = None,
    container: dict[str, Any] | None = None,
    message: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    channel: str | None = None,
    values: dict[str, dict[str, dict[str, Any]]] | None = None,
) -> str:
    """Form body of a ``block_actions`` interaction (button click, select change, …).

    ``action`` is one entry of ``actions`` (``action_id``, ``block_id``, ``type``, ``value``…; ``action_ts``
    is added). Give ``message`` (+ ``channel`` and ``response_url``) for a click in a message, or ``view``
    (and optionally ``values`` for its current state) for a click inside a modal / Home tab. ``container``
    is derived from those unless given.
    """
    act = {"action_ts": _ts(), **action}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [act],
    }
    if view is not None:
        full_view = _view_for_payload(view, team_id=team_id)
        full_view["state"] = {"values": _state_values(full_view, values or {})}
        payload["view"] = full_view
        if container is None:
            payload["container"] = {"type": "view", "view_id": full_view["id"]}
    if message is not None:
        msg = copy.deepcopy(message)
        msg.setdefault("type", "message")
        msg.setdefault("ts", _ts())
        msg.setdefault("user", BOT_USER_ID)
        msg.setdefault("bot_id", BOT_ID)
        msg.setdefault("team", team_id)
        payload["message"] = msg
        payload["state"] = {"values": values or {}}
        channel = channel or msg.get("channel") or CHANNEL_ID
        if container is None:
            payload["container"] = {
                "type": "message",
                "message_ts": msg["ts"],
                "channel_id": channel,
                "is_ephemeral": False,
            }
    if channel is not None:
        payload["channel"] = {"id": channel, "name": "directmessage" if channel.startswith("D") else "general"}
    if response_url is not None:
        payload["response_url"] = response_url
    if payload["container"] is None:
        raise ValueError("block_actions needs a message, a view or an explicit container")
    return _form(payload)


def message_shortcut(
    callback_id: str,
    message: dict[str, Any],
    *,
    user_id: str,
    team_id: str,
    trigger_id: str,
    response_url: str,
    channel: str = CHANNEL_ID,
) -> str:
    """Form body of a message shortcut (``type: message_action``)."""
    msg = {"type": "message", "ts": _ts(), **message}
    payload = {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": _ts(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, team_id),
        "channel": {"id": channel, "name": "directmessage" if channel.startswith("D") else "general"},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
        "response_url": response_url,
        "message_ts": msg["ts"],
        "message": msg,
    }
    return _form(payload)


def event_callback(
    event: dict[str, Any],
    *,
    team_id: str,
    api_app_id: str = API_APP_ID,
    event_id: str | None = None,
    bot_user_id: str = BOT_USER_ID,
) -> str:
    """JSON body of an Events API ``event_callback`` wrapping ``event``."""
    now = int(time.time())
    body = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_counter):09d}",
        "event_time": now,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{next(_counter):012d}",
    }
    return json.dumps(body)


def app_home_opened(user_id: str, *, tab: str = "home", view: dict[str, Any] | None = None) -> dict[str, Any]:
    """The inner ``event`` of ``app_home_opened`` (wrap with :func:`event_callback`)."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": dm_channel_id(user_id),
        "tab": tab,
        "event_ts": _ts(),
    }
    if view is not None:
        event["view"] = view
    return event


def direct_message(text: str, *, user_id: str, channel: str, thread_ts: str | None = None) -> dict[str, Any]:
    """The inner ``event`` of a user's DM to the app (``message.im``)."""
    ts = _ts()
    event: dict[str, Any] = {
        "type": "message",
        "user": user_id,
        "text": text,
        "ts": ts,
        "team": TEAM_ID,
        "channel": channel,
        "event_ts": ts,
        "channel_type": "im",
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "rt" + ts[-4:],
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
            }
        ],
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def channel_message(
    text: str, *, user_id: str, channel: str = CHANNEL_ID, thread_ts: str | None = None
) -> dict[str, Any]:
    """The inner ``event`` of a person's plain message in a channel (``message.channels``; no mention)."""
    event = direct_message(text, user_id=user_id, channel=channel, thread_ts=thread_ts)
    event["channel_type"] = "group" if channel.startswith("G") else "channel"
    return event


def app_mention(
    text: str,
    *,
    user_id: str,
    channel: str = CHANNEL_ID,
    thread_ts: str | None = None,
    bot_user_id: str = BOT_USER_ID,
) -> dict[str, Any]:
    """The inner ``event`` of ``app_mention``: ``<@BOT> text`` posted in a channel (top level or in a thread)."""
    ts = _ts()
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user_id,
        "text": f"<@{bot_user_id}> {text}",
        "ts": ts,
        "client_msg_id": f"{next(_counter):08d}-0000-4000-8000-000000000000",
        "team": TEAM_ID,
        "channel": channel,
        "event_ts": ts,
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "rt" + ts[-4:],
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [{"type": "user", "user_id": bot_user_id}, {"type": "text", "text": " " + text}],
                    }
                ],
            }
        ],
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def message_changed(
    new_text: str,
    *,
    user_id: str,
    channel: str,
    ts: str,
    old_text: str = "",
    thread_ts: str | None = None,
    channel_type: str = "im",
) -> dict[str, Any]:
    """A person edited their message ``ts`` (subtype ``message_changed``; to be ignored)."""
    event_ts = _ts()
    message: dict[str, Any] = {
        "type": "message",
        "user": user_id,
        "text": new_text,
        "ts": ts,
        "team": TEAM_ID,
        "edited": {"user": user_id, "ts": event_ts},
    }
    previous: dict[str, Any] = {"type": "message", "user": user_id, "text": old_text, "ts": ts, "team": TEAM_ID}
    if thread_ts is not None:
        message["thread_ts"] = previous["thread_ts"] = thread_ts
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": message,
        "previous_message": previous,
        "channel": channel,
        "hidden": True,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": channel_type,
    }


def message_deleted(
    *, user_id: str, channel: str, ts: str, old_text: str = "", channel_type: str = "im"
) -> dict[str, Any]:
    """A person deleted their message ``ts`` (subtype ``message_deleted``, no ``user`` at the top; to be ignored)."""
    event_ts = _ts()
    return {
        "type": "message",
        "subtype": "message_deleted",
        "previous_message": {"type": "message", "user": user_id, "text": old_text, "ts": ts, "team": TEAM_ID},
        "channel": channel,
        "hidden": True,
        "deleted_ts": ts,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": channel_type,
    }


def channel_join(*, user_id: str, channel: str = CHANNEL_ID) -> dict[str, Any]:
    """``<@user> has joined the channel`` (subtype ``channel_join``; to be ignored)."""
    ts = _ts()
    return {
        "type": "message",
        "subtype": "channel_join",
        "user": user_id,
        "text": f"<@{user_id}> has joined the channel",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "channel_type": "channel",
    }


OTHER_BOT_ID = "B0OTHERBOT"
OTHER_BOT_USER_ID = "U0OTHERBOT"


def bot_message(
    text: str,
    *,
    channel: str,
    thread_ts: str | None = None,
    bot_id: str = OTHER_BOT_ID,
    legacy: bool = False,
    channel_type: str = "im",
) -> dict[str, Any]:
    """Another app's message: like a person's but with ``bot_id`` (``legacy``: subtype ``bot_message``, no user)."""
    ts = _ts()
    event: dict[str, Any] = {
        "type": "message",
        "text": text,
        "ts": ts,
        "bot_id": bot_id,
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    }
    if legacy:
        event.update({"subtype": "bot_message", "username": "other-bot"})
    else:
        event.update({"user": OTHER_BOT_USER_ID, "app_id": "A0OTHERAPP", "team": TEAM_ID})
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def own_message(text: str, *, channel: str, thread_ts: str | None = None, channel_type: str = "im") -> dict[str, Any]:
    """The app's own message coming back as an event (``message.im`` includes it; to be ignored)."""
    event = bot_message(text, channel=channel, thread_ts=thread_ts, bot_id=BOT_ID, channel_type=channel_type)
    event.update({"user": BOT_USER_ID, "app_id": API_APP_ID})
    return event


def file_share_message(
    text: str,
    *,
    user_id: str,
    channel: str,
    thread_ts: str | None = None,
    name: str = "report.pdf",
    mimetype: str = "application/pdf",
) -> dict[str, Any]:
    """A person's DM with a file attached (subtype ``file_share``)."""
    event = direct_message(text, user_id=user_id, channel=channel, thread_ts=thread_ts)
    file_id = f"F{next(_counter):010d}"
    url = f"https://files.slack.com/files-pri/{TEAM_ID}-{file_id}/{name}"
    event.update(
        {
            "subtype": "file_share",
            "upload": True,
            "display_as_bot": False,
            "files": [
                {
                    "id": file_id,
                    "name": name,
                    "title": name,
                    "mimetype": mimetype,
                    "filetype": name.rsplit(".", 1)[-1],
                    "user": user_id,
                    "size": 1024,
                    "mode": "hosted",
                    "url_private": url,
                    "url_private_download": url.replace(f"/{name}", f"/download/{name}"),
                }
            ],
        }
    )
    return event


def retry_headers(retry_num: int = 1, reason: str = "http_timeout") -> dict[str, str]:
    """Headers of Slack's redelivery of an event it thinks was not acknowledged (up to 3 retries)."""
    return {"x-slack-retry-num": str(retry_num), "x-slack-retry-reason": reason}


def dm_channel_id(user_id: str) -> str:
    """The app's DM channel with ``user_id``: stable, real-looking ``D`` + 10 uppercase alphanumerics.

    FakeSlack's ``conversations.open`` / ``chat.postMessage(channel=U…)`` use the same id.
    """
    digest = int.from_bytes(hashlib.sha256(user_id.encode()).digest()[:8], "big")
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    chars = []
    for _ in range(10):
        digest, rem = divmod(digest, 36)
        chars.append(alphabet[rem])
    return "D" + "".join(chars)


# --- state.values helpers ---------------------------------------------------------------------------------


def text_value(value: str | None) -> dict[str, Any]:
    """state value of a plain_text_input (also url/email/number inputs: pass the string)."""
    return {"value": value}


def files_value(files: list[dict[str, Any]]) -> dict[str, Any]:
    """state value of a file_input; ``files`` are file objects, e.g. from ``FakeSlack.add_file``."""
    return {"type": "file_input", "files": files}


def option_value(value: str | None, text: str | None = None) -> dict[str, Any]:
    """state value of a static_select / radio_buttons (``None`` = nothing selected)."""
    if value is None:
        return {"selected_option": None}
    return {"selected_option": {"text": {"type": "plain_text", "text": text or value, "emoji": True}, "value": value}}


def options_value(values: list[str]) -> dict[str, Any]:
    """state value of checkboxes / multi_static_select."""
    return {
        "selected_options": [{"text": {"type": "plain_text", "text": v, "emoji": True}, "value": v} for v in values]
    }


# --- internals ----------------------------------------------------------------------------------------------

_EMPTY_STATE: dict[str, dict[str, Any]] = {
    "plain_text_input": {"value": None},
    "url_text_input": {"value": None},
    "email_text_input": {"value": None},
    "number_input": {"value": None},
    "rich_text_input": {"rich_text_value": None},
    "file_input": {"files": []},
    "static_select": {"selected_option": None},
    "external_select": {"selected_option": None},
    "radio_buttons": {"selected_option": None},
    "checkboxes": {"selected_options": []},
    "multi_static_select": {"selected_options": []},
    "multi_external_select": {"selected_options": []},
    "users_select": {"selected_user": None},
    "multi_users_select": {"selected_users": []},
    "conversations_select": {"selected_conversation": None},
    "multi_conversations_select": {"selected_conversations": []},
    "channels_select": {"selected_channel": None},
    "multi_channels_select": {"selected_channels": []},
    "datepicker": {"selected_date": None},
    "timepicker": {"selected_time": None},
    "datetimepicker": {"selected_date_time": None},
}


def _state_values(
    view: dict[str, Any], values: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, dict[str, dict[str, Any]]]:
    elements: dict[tuple[str, str], str] = {}
    for block in view.get("blocks") or []:
        if block.get("type") == "input" and isinstance(block.get("element"), dict):
            element = block["element"]
            elements[(str(block.get("block_id")), str(element.get("action_id")))] = str(element.get("type"))
    for block_id, by_action in values.items():
        for action_id in by_action:
            if (block_id, action_id) not in elements:
                raise ValueError(
                    f"no input block {block_id!r} with action_id {action_id!r} in view; "
                    f"known: {sorted(elements)} (give block_id/action_id to the input blocks)"
                )
    state: dict[str, dict[str, dict[str, Any]]] = {}
    for (block_id, action_id), etype in elements.items():
        given = values.get(block_id, {}).get(action_id)
        entry = {"type": etype, **(_EMPTY_STATE.get(etype, {"value": None}) if given is None else given)}
        entry["type"] = etype
        state.setdefault(block_id, {})[action_id] = entry
    return state


def _view_for_payload(
    view: dict[str, Any],
    *,
    team_id: str,
    view_id: str | None = None,
    private_metadata: str | None = None,
) -> dict[str, Any]:
    base = copy.deepcopy(view)
    vid = view_id or base.get("id") or f"V{next(_counter):010d}"
    full: dict[str, Any] = {
        "id": vid,
        "team_id": team_id,
        "type": base.get("type", "modal"),
        "blocks": base.get("blocks", []),
        "private_metadata": base.get("private_metadata") or "",
        "callback_id": base.get("callback_id") or "",
        "state": {"values": {}},
        "hash": base.get("hash") or f"{int(time.time())}.{next(_counter):08d}",
        "title": base.get("title"),
        "clear_on_close": bool(base.get("clear_on_close", False)),
        "notify_on_close": bool(base.get("notify_on_close", False)),
        "close": base.get("close"),
        "submit": base.get("submit"),
        "previous_view_id": base.get("previous_view_id"),
        "root_view_id": base.get("root_view_id") or vid,
        "app_id": API_APP_ID,
        "external_id": base.get("external_id") or "",
        "app_installed_team_id": team_id,
        "bot_id": BOT_ID,
    }
    if private_metadata is not None:
        full["private_metadata"] = private_metadata
    return full


def _user(user_id: str, team_id: str) -> dict[str, str]:
    return {"id": user_id, "username": USER_NAME, "name": USER_NAME, "team_id": team_id}


def _ts() -> str:
    return f"{int(time.time())}.{next(_counter):06d}"


def _form(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})
