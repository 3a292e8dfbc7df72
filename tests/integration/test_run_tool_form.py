"""`/mcp run` and the Run buttons open a form built from the tool's input schema; a submission is checked against
the schema (errors on the field, nothing called), then the tool runs like `/mcp call` and the result lands in the
person's DM."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.domain.owner import Owner
from app.slack import ids
from tests.servers import PYTHON, server_path
from tests.support.config_files import no_child_left  # noqa: F401  (fixture)
from tests.support.flows import add_ready_server
from tests.support.harness import Harness, SlackUser, text_of
from tests.support.slack_payloads import (
    TEAM_ID,
    block_actions,
    dm_channel_id,
    option_value,
    options_value,
    text_value,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("no_child_left")]

FORMS = {"command": PYTHON, "args": [server_path("form_server")]}
BOB = "U0BOBTEST"


def block_ids(view: dict[str, Any]) -> dict[str, str]:
    """Label → block_id of the form's input blocks."""
    return {b["label"]["text"]: b["block_id"] for b in view["blocks"] if b["type"] == "input"}


async def shown_view(user: SlackUser, mark: int) -> dict[str, Any]:
    """The view the app puts in the modal it opened (at once, with a loading note) after looking the tool up."""
    update = await user.slack.wait_for("views.update", after=mark, timeout=30)
    assert update.ok and update.response is not None, update.response
    view: dict[str, Any] = update.response["view"]
    return view


async def open_view(user: SlackUser, text: str) -> dict[str, Any]:
    mark = user.slack.mark()
    await user.command(text)
    return await shown_view(user, mark)


async def dm_after(user: SlackUser, mark: int, *, timeout: float = 30.0) -> dict[str, Any]:
    call = await user.slack.wait_for(
        "chat.postMessage", lambda c: c.params.get("channel") == dm_channel_id(user.user_id), timeout, after=mark
    )
    assert call.ok, call.response
    return call.params


async def tool_calls(harness: Harness, user: SlackUser) -> list[dict[str, Any]]:
    entries = await harness.app.core.audit.recent(Owner(team_id=TEAM_ID, user_id=user.user_id), 50)
    return [e.detail for e in entries if e.action == "tool_call"]


async def test_run_opens_a_form_with_every_kind_of_field_and_a_good_submission_dms_the_typed_result(
    harness: Harness,
) -> None:
    alice = harness.user()
    await add_ready_server(alice, "forms", FORMS)
    view = await open_view(alice, "run forms book")
    assert view["callback_id"] == ids.RUN_FORM_MODAL
    fields = block_ids(view)
    kinds = {b["label"]["text"]: b["element"]["type"] for b in view["blocks"] if b["type"] == "input"}
    assert kinds == {
        "Title": "plain_text_input",
        "Guests": "number_input",
        "Room": "static_select",
        "Notes": "plain_text_input",
        "Email": "email_text_input",
        "Site": "url_text_input",
        "Day": "datepicker",
        "At": "datetimepicker",
        "Budget": "number_input",
        "Breakfast": "checkboxes",
        "Extras": "multi_static_select",
        "Names": "plain_text_input",
        "Details": "plain_text_input",
    }

    mark = harness.slack.mark()
    response = await alice.submit_state(
        view,
        {
            fields["Title"]: text_value("Team offsite"),
            fields["Guests"]: text_value("3"),
            fields["Room"]: option_value("1"),
            fields["Email"]: text_value("ann@example.com"),
            fields["Day"]: {"selected_date": "2026-12-24"},
            fields["Budget"]: text_value("99.5"),
            fields["Breakfast"]: options_value(["0"]),
            fields["Extras"]: options_value(["0", "2"]),
            fields["Names"]: text_value("ann\nbob"),
            fields["Details"]: text_value('{"floor": 2}'),
        },
    )
    assert not response.text or "errors" not in response.json(), response.text  # the modal closes
    result = await dm_after(alice, mark)
    shown = text_of(result).replace("&quot;", '"')
    received = json.loads(shown.split("```")[1].replace("ˋ", "`"))
    assert received == {
        "title": "Team offsite",
        "guests": 3,
        "room": "large",
        "email": "ann@example.com",
        "day": "2026-12-24",
        "budget": 99.5,
        "breakfast": True,
        "extras": ["parking", "crib"],
        "names": ["ann", "bob"],
        "details": {"floor": 2},
    }
    assert [c["tool"] for c in await tool_calls(harness, alice)] == ["book"]


async def test_a_bad_value_is_reported_on_its_field_and_the_tool_is_not_called(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "forms", FORMS)
    view = await open_view(alice, "run forms__book")
    fields = block_ids(view)
    response = await alice.submit_state(
        view,
        {
            fields["Title"]: text_value("x"),
            fields["Guests"]: text_value("7"),
            fields["Details"]: text_value('{"floor": '),
        },
    )
    answer = response.json()
    assert answer["response_action"] == "errors"
    assert answer["errors"][fields["Details"]].startswith("Not valid JSON")
    assert set(answer["errors"]) == {fields["Details"]}  # what cannot be read is reported first

    response = await alice.submit_state(view, {fields["Title"]: text_value("x"), fields["Guests"]: text_value("7")})
    assert response.json()["errors"] == {fields["Guests"]: "7 is greater than the maximum of 5"}
    assert await tool_calls(harness, alice) == []


async def test_the_run_button_beside_a_tool_in_the_listing_opens_its_form(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "forms", FORMS)
    await alice.command("tools forms")
    listing = await alice.reply()
    mark = harness.slack.mark()
    await alice.click(listing, ids.RUN_TOOL, value="forms__big")
    view = await shown_view(alice, mark)
    assert view["callback_id"] == ids.RUN_FORM_MODAL and "forms__big" in text_of({"blocks": view["blocks"]})


async def test_someone_elses_tool_is_refused_from_a_button_and_from_a_form(harness: Harness) -> None:
    alice, bob = harness.user(), harness.user(BOB)
    await add_ready_server(alice, "forms", FORMS)
    alice_form = await open_view(alice, "run forms big")

    mark = harness.slack.mark()
    await bob.raw_click({"action_id": ids.RUN_TOOL, "block_id": "b", "type": "button", "value": "forms__big"})
    refusal = await shown_view(bob, mark)
    assert refusal["callback_id"] != ids.RUN_FORM_MODAL
    assert "You have no server named `forms`" in text_of(refusal), text_of(refusal)

    response = await bob.submit_state(alice_form, {"arg0": text_value("10")})
    answer = response.json()
    assert answer["response_action"] == "update" and "no server named" in json.dumps(answer["view"])
    assert await tool_calls(harness, bob) == [] and await tool_calls(harness, alice) == []


async def test_a_denied_tool_gets_a_clear_error_instead_of_a_form(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "forms", FORMS)
    await alice.command("deny forms__big")
    assert "denied" in text_of(await alice.reply())
    shown = await open_view(alice, "run forms big")
    assert shown["callback_id"] != ids.RUN_FORM_MODAL
    assert "`forms__big` is denied" in text_of(shown) and "/mcp allow forms__big" in text_of(shown), text_of(shown)


async def test_run_with_only_a_server_opens_a_picker_that_leads_to_the_form(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "forms", FORMS)
    picker = await open_view(alice, "run forms")
    assert picker["callback_id"] == ids.RUN_PICKER_MODAL
    response = await alice.submit_state(picker, {ids.RUN_PICKER_TOOL: option_value("forms__big")})
    answer = response.json()
    assert answer["response_action"] == "update" and answer["view"]["callback_id"] == ids.RUN_FORM_MODAL


async def test_app_homes_run_a_tool_button_opens_the_picker(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "forms", FORMS)
    mark = harness.slack.mark()
    body = block_actions(
        {"action_id": ids.RUN_OPEN_PICKER, "block_id": "home_actions", "type": "button"},
        user_id=alice.user_id,
        team_id=TEAM_ID,
        trigger_id=harness.slack.issue_trigger_id(alice.user_id),
        view={"type": "home", "blocks": []},
    )
    assert (await harness.post(body)).status_code == 200
    picker = await shown_view(alice, mark)
    assert picker["callback_id"] == ids.RUN_PICKER_MODAL and "forms__book" in json.dumps(picker["blocks"])


async def test_a_result_too_long_for_a_message_also_arrives_whole_as_a_file(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "forms", FORMS)
    view = await open_view(alice, "run forms big")
    mark = harness.slack.mark()
    await alice.submit_state(view, {block_ids(view)["Size"]: text_value("9000")})
    message = await dm_after(alice, mark)
    assert "The whole result (9000 characters) is in the file below" in text_of(message)
    await harness.slack.wait_for("files.completeUploadExternal", after=mark, timeout=30)
    uploaded = harness.slack.uploaded_files[-1]
    assert uploaded.filename == "forms__big-result.txt" and len(uploaded.text) == 9000
    assert uploaded.channel_id == dm_channel_id(alice.user_id)
