"""A server that asks its caller something mid-call (MCP elicitation) gets the person's answer through Slack: a
"Provide input" message in their DM (or the thread the caller named), a modal built from the requested schema,
and the tool's result carrying what was submitted. Declining tells the server so; only the owner can answer.
Sampling requests are refused with a clear line; progress reaches whoever asked for it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from app.domain.owner import Owner
from app.runtime.call_progress import reporting_progress
from app.services.elicitation_service import Conversation
from app.slack import ids
from tests.servers import PYTHON, server_path
from tests.support.config_files import no_child_left  # noqa: F401  (fixture)
from tests.support.fake_slack import FakeSlack
from tests.support.flows import add_ready_server, call, result_text
from tests.support.harness import Harness, SlackUser, text_of
from tests.support.slack_payloads import TEAM_ID, dm_channel_id, option_value, text_value
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("no_child_left")]

ASKER = {"command": PYTHON, "args": [server_path("elicit_server")]}
LEGACY_ASKER = {"command": PYTHON, "args": [server_path("elicit_server"), "--legacy"]}
PORTAL = "https://portal.example.com/connect?session=42"
OWNER = Owner(team_id=TEAM_ID, user_id="U0TEST")
BOB = "U0BOBTEST"


async def question(
    user: SlackUser, mark: int, channel: str | None = None, *, saying: str = "asking you something"
) -> dict[str, Any]:
    """The message asking for input, as posted."""
    where = channel or dm_channel_id(user.user_id)
    call = await user.slack.wait_for(
        "chat.postMessage",
        lambda c: c.ok and c.response is not None and c.response["channel"] == where and saying in c.params["text"],
        timeout=30,
        after=mark,
    )
    return call.params


async def start_call(user: SlackUser, text: str) -> str:
    """`/mcp <text>`; returns the response_url the answer will come to (the call waits for the question)."""
    await user.command(text)
    return user.response_url


async def answer_at(slack: FakeSlack, url: str) -> str:
    hook = FakeSlack.response_url_id(url)
    call = await slack.wait_for("response_url", lambda c: c.path.endswith(hook) and c.status == 200, timeout=60)
    return text_of(call.params)


async def open_form(user: SlackUser, message: dict[str, Any]) -> dict[str, Any]:
    mark = user.slack.mark()
    await user.click(message, ids.ELICIT_OPEN)
    opened = await user.slack.wait_for("views.open", after=mark, timeout=10)
    assert opened.ok, opened.response
    assert opened.response is not None
    view: dict[str, Any] = opened.response["view"]
    return view


async def test_the_person_answers_a_servers_question_in_a_modal_and_the_tool_gets_the_values(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "asker", ASKER)
    mark = harness.slack.mark()
    answer_url = await start_call(alice, "call asker sign_up")
    message = await question(alice, mark)
    assert "Please sign up to continue." in text_of(message) and "`asker`" in text_of(message)

    view = await open_form(alice, message)
    assert view["callback_id"] == ids.ELICIT_FORM_MODAL
    labels = {b["label"]["text"]: b["block_id"] for b in view["blocks"] if b["type"] == "input"}
    assert set(labels) == {"Name", "Age", "Plan"}

    refused = await alice.submit_state(view, {labels["Name"]: text_value("ann"), labels["Age"]: text_value("200")})
    assert refused.json()["errors"] == {labels["Age"]: "200 is greater than the maximum of 150"}

    accepted = await alice.submit_state(
        view,
        {labels["Name"]: text_value("ann"), labels["Age"]: text_value("30"), labels["Plan"]: option_value("1")},
    )
    assert not accepted.text or "errors" not in accepted.json(), accepted.text
    assert result_text(await answer_at(harness.slack, answer_url)) == "accepted: name=ann age=30 plan=pro"
    updated = await harness.slack.wait_for("chat.update", after=mark, timeout=10)
    assert "You answered `asker`" in text_of(updated.params)


async def test_declining_tells_the_server_and_the_tool_reports_it(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "asker", ASKER)
    mark = harness.slack.mark()
    answer_url = await start_call(alice, "call asker sign_up")
    message = await question(alice, mark)
    await alice.click(message, ids.ELICIT_DECLINE)
    assert result_text(await answer_at(harness.slack, answer_url)) == "declined"
    updated = await harness.slack.wait_for("chat.update", after=mark, timeout=10)
    assert "You declined `asker`" in text_of(updated.params)


async def test_only_the_servers_owner_can_answer_its_question(harness: Harness) -> None:
    alice, bob = harness.user(), harness.user(BOB)
    await add_ready_server(alice, "asker", ASKER)
    mark = harness.slack.mark()
    answer_url = await start_call(alice, "call asker sign_up")
    message = await question(alice, mark)
    request_id = next(
        e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"] if e.get("value")
    )
    for action in (ids.ELICIT_OPEN, ids.ELICIT_DECLINE):
        await bob.raw_click({"action_id": action, "block_id": "elicitation", "type": "button", "value": request_id})
        assert "only the person whose server asked can answer" in text_of(await bob.reply())
    await alice.click(message, ids.ELICIT_DECLINE)  # still open: bob changed nothing
    assert result_text(await answer_at(harness.slack, answer_url)) == "declined"


async def test_a_question_asked_during_a_call_made_for_a_thread_is_posted_in_that_thread(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "asker", ASKER)
    server_id = harness.app.tools.all_tools(OWNER)[0].server_id
    place = Conversation("C0TEST00001", "1700000000.000100")
    mark = harness.slack.mark()
    results: list[str] = []

    async def call_for_the_thread() -> None:
        with harness.app.core.elicitation.asking_in(server_id, place):
            outcome = await harness.app.tools.call(OWNER, "asker", "sign_up", "{}")
        results.append(outcome.text)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(call_for_the_thread)
        message = await question(alice, mark, channel=place.channel)
        assert message["thread_ts"] == place.thread_ts
        await alice.click(message, ids.ELICIT_DECLINE)
    assert results == ["declined"]


async def test_a_sampling_request_is_refused_with_a_clear_line(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "asker", ASKER)
    shown = await call(alice, "asker", "summarize", {"text": "long text"})
    assert "asker__summarize" in shown and "MCP sampling" in shown and "does not support" in shown, shown


async def test_progress_notifications_reach_the_caller_that_asked_for_them(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "asker", ASKER)
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    with reporting_progress(on_progress):
        outcome = await harness.app.tools.call(OWNER, "asker", "count", json.dumps({"steps": 3}))
    assert outcome.text == "counted 3"
    # Notifications are handled as tasks of their own: the last may land just after the result.
    await wait_until(lambda: len(seen) == 3, timeout=5, what="three progress notifications")
    assert sorted(seen) == [(1.0, 3.0, "step 1"), (2.0, 3.0, "step 2"), (3.0, 3.0, "step 3")]


def elements(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def test_a_link_the_server_asks_to_open_is_shown_in_full_with_its_host_and_only_given_after_consent(
    harness: Harness,
) -> None:
    alice = harness.user()
    await add_ready_server(alice, "asker", LEGACY_ASKER)  # URL mode needs a mid-call request: handshake era
    mark = harness.slack.mark()
    answer_url = await start_call(alice, "call asker open_portal")
    message = await question(alice, mark, saying="wants you to open a link")
    shown = text_of(message).replace("&amp;", "&")
    assert PORTAL in shown and "*portal.example.com*" in shown and "Only continue if you trust this server" in shown
    assert message["unfurl_links"] is False and message["unfurl_media"] is False
    assert not any("url" in e for e in elements(message)), "nothing opens before the person agrees"

    await alice.click(message, ids.ELICIT_OPEN_LINK)
    assert result_text(await answer_at(harness.slack, answer_url)) == "url accepted"
    updated = await harness.slack.wait_for("chat.update", after=mark, timeout=10)
    assert [e["url"] for e in elements(updated.params) if "url" in e] == [PORTAL]
    assert PORTAL in text_of(updated.params).replace("&amp;", "&")


async def test_time_spent_answering_does_not_count_against_the_calls_timeout(tmp_path: Path) -> None:
    async with Harness.running(tmp_path, plugboard_request_timeout=2.0) as harness:
        alice = harness.user()
        # Handshake era: the question is a request in the middle of the call, while the call's request is open
        # (on 2026-07-28 the call first returns "input required" and is sent again with the answer).
        await add_ready_server(alice, "asker", LEGACY_ASKER)
        mark = harness.slack.mark()
        answer_url = await start_call(alice, "call asker sign_up")
        message = await question(alice, mark)
        asked_at = time.monotonic()
        # The person takes longer than the server is given: the call's clock stops while the question is open.
        await wait_until(lambda: time.monotonic() - asked_at > 3.0, timeout=10, what="a slow answer")
        await alice.click(message, ids.ELICIT_DECLINE)
        assert result_text(await answer_at(harness.slack, answer_url)) == "declined"


async def test_a_sampling_request_sent_mid_call_is_refused_by_the_client(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "asker", LEGACY_ASKER)  # a server-to-client request mid-call: handshake era
    shown = await call(alice, "asker", "ask_model_directly")
    assert result_text(shown) == "sampling refused: Sampling not supported", shown
