"""FakeSlack behaves like the parts of Slack the app talks to (driven with slack_sdk's real clients)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.support import slack_payloads as sp
from tests.support.fake_slack import Call, FakeSlack
from tests.unit.fakes import FakeClock

pytestmark = pytest.mark.anyio

SECRET = "test-signing-secret"


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


def pt(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def name_modal(**extra: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "add_server",
        "title": pt("Add server"),
        "submit": pt("Save"),
        "blocks": [
            {
                "type": "input",
                "block_id": "name",
                "label": pt("Name"),
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
    }
    view.update(extra)
    return view


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


# --- basics ---------------------------------------------------------------------------------------------------


async def test_api_url_ends_with_a_slash_for_the_sdk_base_url(slack: FakeSlack) -> None:
    assert slack.api_url.startswith("http://127.0.0.1:")
    assert slack.api_url.endswith("/api/")


async def test_auth_test_identifies_the_fake_workspace_and_bot(client: AsyncWebClient) -> None:
    response = await client.auth_test()
    assert response["team_id"] == "T0TEST"
    assert response["user_id"] == "U0BOT"
    assert response["bot_id"] == "B0BOT"
    assert response["url"].startswith("https://")


async def test_calls_without_a_token_are_not_authed(slack: FakeSlack) -> None:
    error = await api_error(AsyncWebClient(base_url=slack.api_url).auth_test())
    assert error.response["error"] == "not_authed"


async def test_calls_with_a_wrong_token_are_invalid_auth(slack: FakeSlack) -> None:
    error = await api_error(AsyncWebClient(token="xoxb-other", base_url=slack.api_url).auth_test())
    assert error.response["error"] == "invalid_auth"
    assert slack.errors == [("auth.test", "invalid_auth")]


async def test_token_may_be_sent_as_a_form_param(slack: FakeSlack) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(slack.api_url + "auth.test", data={"token": slack.bot_token}) as response,
    ):
        assert (await response.json())["ok"] is True


async def test_unknown_method_is_reported(client: AsyncWebClient) -> None:
    error = await api_error(client.api_call("reactions.teleport"))
    assert error.response["error"] == "unknown_method"


async def test_blocks_validate_needs_no_token(slack: FakeSlack) -> None:
    anonymous = AsyncWebClient(base_url=slack.api_url)
    assert (await anonymous.blocks_validate(blocks=[section("hi")]))["ok"] is True
    error = await api_error(anonymous.blocks_validate(blocks=[{"type": "nope"}]))
    assert error.response["error"] == "invalid_blocks"
    assert slack.problems == []  # asking is not a mistake


async def test_every_call_is_recorded_with_decoded_params_and_headers(slack: FakeSlack, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="C0TEST00001", text="json", blocks=[section("as JSON")])
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            slack.api_url + "chat.postMessage",
            data={"channel": "C0TEST00001", "text": "form", "blocks": json.dumps([section("as form")])},
            headers={"Authorization": f"Bearer {slack.bot_token}"},
        ) as response,
    ):
        assert (await response.json())["ok"] is True
    json_call, form_call = slack.calls_to("chat.postMessage")
    assert json_call.params["blocks"][0]["text"]["text"] == "as JSON"
    assert form_call.params["blocks"][0]["text"]["text"] == "as form"
    assert json_call.headers["authorization"] == f"Bearer {slack.bot_token}"
    assert json_call.ok and json_call.response is not None and json_call.response["ts"]


async def test_fail_next_injects_an_error_once(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.fail_next("chat.postMessage", "not_in_channel")
    error = await api_error(client.chat_postMessage(channel="C0TEST00001", text="hi"))
    assert error.response["error"] == "not_in_channel"
    assert (await client.chat_postMessage(channel="C0TEST00001", text="hi"))["ok"] is True


async def test_custom_handlers_serve_extra_methods(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.on("assistant.threads.setStatus", lambda params: {"ok": True, "echo": params["status"]})
    response = await client.assistant_threads_setStatus(channel_id="D0", thread_ts="1.2", status="thinking")
    assert response["echo"] == "thinking"


# --- wait_for ---------------------------------------------------------------------------------------------------


async def test_wait_for_returns_a_call_that_arrived_earlier(slack: FakeSlack, client: AsyncWebClient) -> None:
    await client.auth_test()
    call = await slack.wait_for("auth.test", timeout=1.0)
    assert call is slack.calls[0]


async def test_wait_for_wakes_up_when_the_call_arrives(slack: FakeSlack, client: AsyncWebClient) -> None:
    waiter = asyncio.create_task(slack.wait_for("chat.postMessage", lambda c: c.params.get("text") == "b"))
    await client.chat_postMessage(channel="C0TEST00001", text="a")
    assert not waiter.done()
    await client.chat_postMessage(channel="C0TEST00001", text="b")
    call = await asyncio.wait_for(waiter, timeout=5.0)
    assert call.params["text"] == "b"


async def test_wait_for_after_a_mark_ignores_older_calls(slack: FakeSlack, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="C0TEST00001", text="old")
    mark = slack.mark()
    await client.chat_postMessage(channel="C0TEST00001", text="new")
    assert (await slack.wait_for("chat.postMessage")).params["text"] == "old"
    assert (await slack.wait_for("chat.postMessage", after=mark)).params["text"] == "new"


async def test_wait_for_times_out_listing_what_was_recorded(slack: FakeSlack, client: AsyncWebClient) -> None:
    await client.auth_test()
    with pytest.raises(AssertionError, match=r"no 'views.open' call within 0.05s.*recorded: \['auth.test'\]"):
        await slack.wait_for("views.open", timeout=0.05)


# --- triggers and modals -----------------------------------------------------------------------------------------


async def test_views_open_returns_the_view_as_slack_stores_it(slack: FakeSlack, client: AsyncWebClient) -> None:
    view = name_modal(private_metadata='{"server": 1}')
    del view["blocks"][0]["block_id"]
    response = await client.views_open(trigger_id=slack.issue_trigger_id(), view=view)
    stored = response["view"]
    assert stored["id"].startswith("V") and len(stored["id"]) == 11
    assert stored["hash"]
    assert stored["state"] == {"values": {}}
    assert stored["private_metadata"] == '{"server": 1}'
    assert stored["callback_id"] == "add_server"
    assert stored["blocks"][0]["block_id"]  # generated, like Slack does
    assert stored["blocks"][0]["element"]["action_id"] == "value"
    assert slack.view_stack() == [stored]


async def test_trigger_id_is_single_use(slack: FakeSlack, client: AsyncWebClient) -> None:
    trigger_id = slack.issue_trigger_id()
    await client.views_open(trigger_id=trigger_id, view=name_modal())
    error = await api_error(client.views_open(trigger_id=trigger_id, view=name_modal()))
    assert error.response["error"] == "exchanged_trigger_id"


async def test_trigger_id_is_refused_after_three_seconds(
    slack: FakeSlack, client: AsyncWebClient, clock: FakeClock
) -> None:
    fresh, stale = slack.issue_trigger_id(), slack.issue_trigger_id()
    clock.advance(2.9)
    assert (await client.views_open(trigger_id=fresh, view=name_modal()))["ok"] is True
    clock.advance(0.2)
    error = await api_error(client.views_open(trigger_id=stale, view=name_modal()))
    assert error.response["error"] == "expired_trigger_id"


async def test_unknown_trigger_id_is_invalid(client: AsyncWebClient) -> None:
    error = await api_error(client.views_open(trigger_id="123.456.nope", view=name_modal()))
    assert error.response["error"] == "invalid_trigger_id"


async def test_modal_with_input_but_no_submit_is_rejected(slack: FakeSlack, client: AsyncWebClient) -> None:
    view = name_modal()
    del view["submit"]
    trigger_id = slack.issue_trigger_id()
    error = await api_error(client.views_open(trigger_id=trigger_id, view=view))
    assert error.response["error"] == "invalid_arguments"
    assert error.response["response_metadata"]["messages"] == [
        "[ERROR] view: a modal with input blocks must define submit"
    ]
    assert slack.problems == ["views.open: view: a modal with input blocks must define submit"]
    # a rejected view does not use up the trigger
    assert (await client.views_open(trigger_id=trigger_id, view=name_modal()))["ok"] is True


async def test_views_open_refuses_a_home_view(slack: FakeSlack, client: AsyncWebClient) -> None:
    error = await api_error(
        client.views_open(trigger_id=slack.issue_trigger_id(), view={"type": "home", "blocks": [section("x")]})
    )
    assert error.response["error"] == "invalid_arguments"


async def test_views_update_replaces_the_view_and_its_hash(slack: FakeSlack, client: AsyncWebClient) -> None:
    opened = (await client.views_open(trigger_id=slack.issue_trigger_id(), view=name_modal()))["view"]
    updated = (await client.views_update(view_id=opened["id"], hash=opened["hash"], view=name_modal(title=pt("Edit"))))[
        "view"
    ]
    assert updated["id"] == opened["id"]
    assert updated["hash"] != opened["hash"]
    assert updated["title"]["text"] == "Edit"


async def test_views_update_with_a_stale_hash_is_a_conflict(slack: FakeSlack, client: AsyncWebClient) -> None:
    opened = (await client.views_open(trigger_id=slack.issue_trigger_id(), view=name_modal()))["view"]
    await client.views_update(view_id=opened["id"], hash=opened["hash"], view=name_modal())
    error = await api_error(client.views_update(view_id=opened["id"], hash=opened["hash"], view=name_modal()))
    assert error.response["error"] == "hash_conflict"


async def test_views_update_by_external_id(slack: FakeSlack, client: AsyncWebClient) -> None:
    await client.views_open(trigger_id=slack.issue_trigger_id(), view=name_modal(external_id="add-1"))
    updated = await client.views_update(external_id="add-1", view=name_modal(external_id="add-1", title=pt("Two")))
    assert updated["view"]["title"]["text"] == "Two"


async def test_views_update_of_an_unknown_view_is_not_found(client: AsyncWebClient) -> None:
    error = await api_error(client.views_update(view_id="V0NOTTHERE0", view=name_modal()))
    assert error.response["error"] == "not_found"


async def test_modal_stack_is_limited_to_three_views(slack: FakeSlack, client: AsyncWebClient) -> None:
    root = (await client.views_open(trigger_id=slack.issue_trigger_id(), view=name_modal()))["view"]
    second = (await client.views_push(trigger_id=slack.issue_trigger_id(), view=name_modal()))["view"]
    third = (await client.views_push(trigger_id=slack.issue_trigger_id(), view=name_modal()))["view"]
    assert third["root_view_id"] == root["id"]
    assert third["previous_view_id"] == second["id"]
    error = await api_error(client.views_push(trigger_id=slack.issue_trigger_id(), view=name_modal()))
    assert error.response["error"] == "push_limit_reached"
    slack.close_views()
    assert slack.view_stack() == []


async def test_home_tab_accepts_100_blocks_and_refuses_101(slack: FakeSlack, client: AsyncWebClient) -> None:
    first = await client.views_publish(user_id="U0TEST", view={"type": "home", "blocks": [section("x")] * 100})
    again = await client.views_publish(user_id="U0TEST", view={"type": "home", "blocks": [section("y")]})
    assert again["view"]["id"] == first["view"]["id"]
    error = await api_error(
        client.views_publish(user_id="U0TEST", view={"type": "home", "blocks": [section("x")] * 101})
    )
    assert error.response["error"] == "invalid_arguments"
    assert slack.homes["U0TEST"]["blocks"][0]["text"]["text"] == "y"


async def test_views_publish_needs_a_home_view(client: AsyncWebClient) -> None:
    error = await api_error(client.views_publish(user_id="U0TEST", view=name_modal()))
    assert error.response["error"] == "invalid_arguments"


# --- messages ----------------------------------------------------------------------------------------------------


async def test_post_message_to_a_user_id_lands_in_a_stable_dm(slack: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="U0TEST", text="hello", unfurl_links=False)
    opened = await client.conversations_open(users="U0TEST")
    assert posted["channel"] == opened["channel"]["id"] == slack.dm_channel("U0TEST")
    assert posted["channel"].startswith("D") and len(posted["channel"]) == 11
    assert posted["channel"][1:].isalnum() and posted["channel"].isupper()
    assert posted["ts"]
    assert slack.messages[0]["channel"] == posted["channel"]
    assert (await client.conversations_open(users="U0OTHER"))["channel"]["id"] != posted["channel"]


async def test_message_with_more_than_50_blocks_is_rejected(slack: FakeSlack, client: AsyncWebClient) -> None:
    error = await api_error(client.chat_postMessage(channel="C0TEST00001", text="t", blocks=[section("x")] * 51))
    assert error.response["error"] == "invalid_blocks"
    assert slack.problems == ["chat.postMessage: blocks: a message can have at most 50 blocks (has 51)"]


async def test_message_text_over_40000_chars_is_refused(slack: FakeSlack, client: AsyncWebClient) -> None:
    error = await api_error(client.chat_postMessage(channel="C0TEST00001", text="x" * 40_001))
    assert error.response["error"] == "msg_too_long"
    assert len(slack.problems) == 1


async def test_message_without_text_or_blocks_is_no_text(client: AsyncWebClient) -> None:
    # (raw api_call: chat_postMessage itself would warn about the missing text first)
    error = await api_error(client.api_call("chat.postMessage", json={"channel": "C0TEST00001", "text": ""}))
    assert error.response["error"] == "no_text"


async def test_message_to_a_malformed_channel_is_channel_not_found(client: AsyncWebClient) -> None:
    error = await api_error(client.chat_postMessage(channel="general", text="hi"))
    assert error.response["error"] == "channel_not_found"


async def test_ephemeral_message_needs_a_channel_and_a_user(slack: FakeSlack, client: AsyncWebClient) -> None:
    response = await client.chat_postEphemeral(channel="C0TEST00001", user="U0TEST", text="only you")
    assert response["message_ts"]
    assert slack.messages[-1]["ephemeral_user"] == "U0TEST"
    error = await api_error(client.chat_postEphemeral(channel="U0TEST", user="U0TEST", text="hi"))
    assert error.response["error"] == "channel_not_found"


async def test_chat_update_edits_a_posted_message(slack: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="U0TEST", text="v1")
    await client.chat_update(channel=posted["channel"], ts=posted["ts"], text="v2", blocks=[section("v2")])
    assert slack.messages[0]["text"] == "v2"
    error = await api_error(client.chat_update(channel=posted["channel"], ts="1.000001", text="v3"))
    assert error.response["error"] == "message_not_found"


async def test_users_info_returns_a_profile(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_user("U0TEST", real_name="Ada Lovelace")
    user = (await client.users_info(user="U0TEST"))["user"]
    assert user["id"] == "U0TEST" and user["real_name"] == "Ada Lovelace"
    assert "tz" in user and "profile" in user
    error = await api_error(client.users_info(user="nobody"))
    assert error.response["error"] == "user_not_found"


# --- files -------------------------------------------------------------------------------------------------------


async def test_files_info_is_a_get_returning_the_private_download_url(slack: FakeSlack, client: AsyncWebClient) -> None:
    added = slack.add_file("servers.json", b'{"servers": []}')
    info = await client.files_info(file=added["id"])
    assert info["file"]["url_private_download"].startswith(slack.base_url)
    assert info["file"]["mimetype"] == "application/json"
    assert info["file"]["size"] == len(b'{"servers": []}')
    assert slack.calls_to("files.info")[0].http_method == "GET"
    error = await api_error(client.files_info(file="F0MISSING00"))
    assert error.response["error"] == "file_not_found"


async def test_private_download_with_the_bot_token_returns_the_bytes(slack: FakeSlack) -> None:
    added = slack.add_file("servers.json", b'{"servers": []}')
    async with (
        aiohttp.ClientSession() as http,
        http.get(added["url_private_download"], headers={"Authorization": f"Bearer {slack.bot_token}"}) as response,
    ):
        assert response.status == 200
        assert response.content_type == "application/json"
        assert await response.read() == b'{"servers": []}'


async def test_private_download_also_answers_the_short_path(slack: FakeSlack) -> None:
    added = slack.add_file("servers.json", b"{}")
    auth = {"Authorization": f"Bearer {slack.bot_token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{slack.base_url}files-pri/{added['id']}/download", headers=auth) as response:
            assert (response.status, await response.read()) == (200, b"{}")
        async with http.get(f"{slack.base_url}files-pri/F0MISSING00/download", headers=auth) as missing:
            assert missing.status == 404


async def test_private_download_without_token_returns_html(slack: FakeSlack) -> None:
    added = slack.add_file("servers.json", b"{}")
    async with aiohttp.ClientSession() as http:
        async with http.get(added["url_private_download"]) as response:
            assert response.status == 200
            assert response.content_type == "text/html"
        async with http.get(added["url_private_download"], headers={"Authorization": "Bearer xoxb-wrong"}) as wrong:
            assert wrong.content_type == "text/html"
    assert [c.params["authorized"] for c in slack.calls_to("download")] == [False, False]


async def test_upload_v2_to_a_dm_is_recorded_as_an_uploaded_file(slack: FakeSlack, client: AsyncWebClient) -> None:
    dm = (await client.conversations_open(users="U0TEST"))["channel"]["id"]
    text = '{"mcpServers": {"time": {"command": "uvx"}}} é'
    response = await client.files_upload_v2(
        channel=dm, filename="mcp.json", content=text, title="MCP export", initial_comment="Your export"
    )
    assert response["file"]["id"].startswith("F")
    assert [c.method for c in slack.calls[1:]] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    assert "authorization" not in slack.calls_to("upload")[0].headers
    (uploaded,) = slack.uploaded_files
    assert (uploaded.channel_id, uploaded.filename, uploaded.title) == (dm, "mcp.json", "MCP export")
    assert uploaded.text == text
    assert uploaded.initial_comment == "Your export"
    assert slack.messages[-1]["channel"] == dm and slack.messages[-1]["files"][0]["id"] == uploaded.file_id
    assert slack.problems == []


async def test_upload_to_a_user_id_is_refused(slack: FakeSlack, client: AsyncWebClient) -> None:
    error = await api_error(client.files_upload_v2(channel="U0TEST", filename="mcp.json", content="{}"))
    assert error.response["error"] == "invalid_arguments"
    assert slack.uploaded_files == []


async def test_completing_an_upload_that_was_never_sent_is_file_not_found(client: AsyncWebClient) -> None:
    started = await client.files_getUploadURLExternal(filename="a.json", length=2)
    error = await api_error(
        client.files_completeUploadExternal(files=[{"id": started["file_id"]}], channel_id="C0TEST00001")
    )
    assert error.response["error"] == "file_not_found"


# --- response_url ------------------------------------------------------------------------------------------------


async def test_response_url_accepts_five_posts_then_says_used_url(slack: FakeSlack) -> None:
    url = slack.new_response_url()
    webhook = AsyncWebhookClient(url)
    for i in range(5):
        assert (await webhook.send(text=f"update {i}", replace_original=True)).status_code == 200
    sixth = await webhook.send(text="one too many")
    assert (sixth.status_code, sixth.body) == (404, "used_url")
    hook_id = FakeSlack.response_url_id(url)
    assert [r["text"] for r in slack.responses[hook_id]] == [f"update {i}" for i in range(5)]
    assert len(slack.calls_to("response_url")) == 6


async def test_response_url_with_invalid_blocks_is_refused(slack: FakeSlack) -> None:
    webhook = AsyncWebhookClient(slack.new_response_url())
    response = await webhook.send(text="t", blocks=[{"type": "section", "text": "bare"}])
    assert (response.status_code, response.body) == (400, "invalid_blocks")
    assert slack.problems == ["response_url: blocks[0] (section).text: must be a text object, not str"]


async def test_response_url_expires_after_thirty_minutes(slack: FakeSlack, clock: FakeClock) -> None:
    webhook = AsyncWebhookClient(slack.new_response_url())
    clock.advance(30 * 60 + 1)
    response = await webhook.send(text="late")
    assert (response.status_code, response.body) == (404, "expired_url")


# --- driving a real Bolt app with the payload builders ----------------------------------------------------------


def bolt_app(slack: FakeSlack) -> AsyncApp:
    return AsyncApp(client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url), signing_secret=SECRET)


async def dispatch(app: AsyncApp, body: str, *, secret: str = SECRET) -> Any:
    headers: dict[str, Any] = dict(sp.sign(body, secret))
    return await app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))


async def test_signed_slash_command_reaches_bolt_and_opens_a_modal(slack: FakeSlack) -> None:
    app = bolt_app(slack)
    done = asyncio.Event()

    @app.command("/mcp")
    async def mcp(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=name_modal(private_metadata=body["text"]))
        done.set()

    body = sp.slash_command(
        "add",
        user_id="U0TEST",
        team_id="T0TEST",
        trigger_id=slack.issue_trigger_id(),
        response_url=slack.new_response_url(),
    )
    assert parse_qs(body)["command"] == ["/mcp"]
    response = await dispatch(app, body)
    assert response.status == 200
    call = await slack.wait_for("views.open", lambda c: c.ok)
    assert call.params["view"]["private_metadata"] == "add"
    await asyncio.wait_for(done.wait(), timeout=5.0)  # let the listener finish before the fake goes away
    assert slack.problems == []


async def test_bad_signature_is_refused_by_bolt(slack: FakeSlack) -> None:
    body = sp.slash_command("add", user_id="U0TEST", team_id="T0TEST", trigger_id="1.2.3", response_url="x")
    response = await dispatch(bolt_app(slack), body, secret="not-the-secret")
    assert response.status == 401


async def test_signed_view_submission_carries_values_and_metadata(slack: FakeSlack, client: AsyncWebClient) -> None:
    opened = (await client.views_open(trigger_id=slack.issue_trigger_id(), view=name_modal()))["view"]
    app = bolt_app(slack)
    seen: dict[str, Any] = {}

    @app.view("add_server")
    async def submitted(ack: AsyncAck, view: dict[str, Any], body: dict[str, Any]) -> None:
        seen.update(view=view, user=body["user"]["id"])
        await ack(response_action="errors", errors={"name": "Taken"})

    body = sp.view_submission(
        opened,
        {"name": {"value": sp.text_value("github")}},
        user_id="U0TEST",
        team_id="T0TEST",
        trigger_id=slack.issue_trigger_id(),
        private_metadata='{"k": 1}',
    )
    response = await dispatch(app, body)
    assert response.status == 200
    assert json.loads(response.body) == {"response_action": "errors", "errors": {"name": "Taken"}}
    assert seen["user"] == "U0TEST"
    assert seen["view"]["id"] == opened["id"] and seen["view"]["hash"] == opened["hash"]
    assert seen["view"]["private_metadata"] == '{"k": 1}'
    assert seen["view"]["state"]["values"] == {"name": {"value": {"type": "plain_text_input", "value": "github"}}}


def test_view_submission_refuses_values_for_blocks_the_view_does_not_have() -> None:
    with pytest.raises(ValueError, match="no input block 'nope'"):
        sp.view_submission(
            name_modal(), {"nope": {"value": sp.text_value("x")}}, user_id="U0TEST", team_id="T0TEST", trigger_id="t"
        )


def test_view_submission_fills_untouched_inputs_with_empty_values() -> None:
    files_block = {
        "type": "input",
        "block_id": "file",
        "label": pt("File"),
        "element": {"type": "file_input", "action_id": "v"},
    }
    view = name_modal()
    view["blocks"].append(files_block)
    body = sp.view_submission(view, {}, user_id="U0TEST", team_id="T0TEST", trigger_id="t")
    payload = json.loads(parse_qs(body)["payload"][0])
    assert payload["view"]["state"]["values"] == {
        "name": {"value": {"type": "plain_text_input", "value": None}},
        "file": {"v": {"type": "file_input", "files": []}},
    }


async def test_button_click_in_a_message_can_respond_through_the_response_url(slack: FakeSlack) -> None:
    app = bolt_app(slack)
    done = asyncio.Event()

    @app.action("enable_server")
    async def enable(ack: AsyncAck, respond: AsyncRespond, action: dict[str, Any]) -> None:
        await ack()
        await respond(text=f"Enabled {action['value']}", replace_original=True)
        done.set()

    url = slack.new_response_url()
    body = sp.block_actions(
        {"action_id": "enable_server", "block_id": "row", "type": "button", "value": "github", "text": pt("On")},
        user_id="U0TEST",
        team_id="T0TEST",
        trigger_id=slack.issue_trigger_id(),
        response_url=url,
        message={"text": "servers", "blocks": [section("servers")]},
        channel=slack.dm_channel("U0TEST"),
    )
    assert (await dispatch(app, body)).status == 200
    call: Call = await slack.wait_for("response_url")
    assert call.params == {"text": "Enabled github", "replace_original": True}
    assert slack.responses[FakeSlack.response_url_id(url)] == [call.params]
    await asyncio.wait_for(done.wait(), timeout=5.0)


async def test_app_home_opened_event_can_publish_the_home_tab(slack: FakeSlack) -> None:
    app = bolt_app(slack)
    done = asyncio.Event()

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": [section("Hi")]})
        done.set()

    body = sp.event_callback(sp.app_home_opened("U0TEST"), team_id="T0TEST")
    assert (await dispatch(app, body)).status == 200
    call = await slack.wait_for("views.publish")
    assert call.ok and slack.homes["U0TEST"]["blocks"][0]["text"]["text"] == "Hi"
    await asyncio.wait_for(done.wait(), timeout=5.0)
    assert slack.problems == []
