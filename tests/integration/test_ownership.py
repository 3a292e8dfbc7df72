"""Every Slack action re-checks ownership, and only requests Slack really signed (recently) are acted on."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from app.domain.owner import Owner
from tests.servers import PYTHON, server_path
from tests.support import slack_payloads as payloads
from tests.support.harness import SIGNING_SECRET, Harness, SlackUser, text_of
from tests.support.processes import descendants_of

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id="T0TEST", user_id="U0TEST")
BOB_ID = "U0BOB"
REFUSAL = "That button belongs to someone else's server; nothing was changed."


# -- helpers ---------------------------------------------------------------------------------------------------


def child_pids() -> list[int]:
    """Processes this test process started (directly or not) that still exist."""
    return list(descendants_of())


@pytest.fixture(autouse=True)
def no_process_survives() -> Iterator[None]:
    """Set up before the harness, so this check runs after the app has closed."""
    yield
    assert child_pids() == [], "a server process outlived the app"


async def alice_with_a_running_server(harness: Harness) -> tuple[SlackUser, str]:
    alice = harness.user()
    entry = {"command": PYTHON, "args": [server_path("tiny_server")]}
    await alice.command(f"add-json tiny {json.dumps(entry)}")
    confirmation = await alice.reply()
    await alice.click(confirmation, "change_confirm")
    done = await alice.reply(lambda m: "*Done*" in text_of(m))
    assert "ready" in text_of(done), text_of(done)
    [item] = await harness.app.servers.overview(ALICE)
    return alice, item.record.id


async def alice_state(harness: Harness) -> list[tuple[str, str, int, bool, str, str]]:
    return [
        (o.record.id, o.record.name, o.record.version, o.record.enabled, o.record.approved_hash, o.status.state)
        for o in await harness.app.servers.overview(ALICE)
    ]


async def pending_ids(harness: Harness) -> list[str]:
    return [row["id"] for row in await harness.app.db.fetch_all("SELECT id FROM pending_changes ORDER BY id")]


async def denied_entries(harness: Harness) -> list[tuple[str, str]]:
    rows = await harness.app.db.fetch_all(
        "SELECT actor_id, server_name FROM audit_log WHERE owner_id = ? AND action = 'denied'", (ALICE.id,)
    )
    return [(row["actor_id"], row["server_name"]) for row in rows]


async def still_works(alice: SlackUser) -> None:
    await alice.command('call tiny add {"a": 40, "b": 2}')
    assert "42" in text_of(await alice.reply())


def overflow(value: str) -> dict[str, Any]:
    return {
        "action_id": "server_menu",
        "block_id": "server:x",
        "type": "overflow",
        "selected_option": {"text": {"type": "plain_text", "text": "Remove"}, "value": value},
    }


def button(action_id: str, value: str) -> dict[str, Any]:
    return {
        "action_id": action_id,
        "block_id": "decision",
        "type": "button",
        "value": value,
        "text": {"type": "plain_text", "text": "Confirm"},
    }


# -- tampered payloads from another user ------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["remove", "disable", "enable", "edit"])
async def test_another_users_server_id_in_the_server_menu_is_refused_and_nothing_changes(
    harness: Harness, verb: str
) -> None:
    alice, server_id = await alice_with_a_running_server(harness)
    before = await alice_state(harness)
    mark = harness.slack.mark()

    bob = harness.user(BOB_ID)
    response = await bob.raw_click(overflow(f"{verb}:{server_id}"))
    assert response.status_code == 200
    answer = await bob.reply()

    assert REFUSAL in text_of(answer), text_of(answer)
    assert "tiny" not in text_of(answer)  # not even the name leaks
    assert await alice_state(harness) == before
    assert [c.method for c in harness.slack.calls[mark:] if c.method.startswith("views.")] == []
    assert (f"T0TEST-{BOB_ID}", "tiny") in await denied_entries(harness)
    await still_works(alice)


async def test_another_users_server_id_on_the_remove_button_is_refused(harness: Harness) -> None:
    alice, server_id = await alice_with_a_running_server(harness)
    before = await alice_state(harness)

    bob = harness.user(BOB_ID)
    await bob.raw_click(button("remove_confirm", server_id))
    answer = await bob.reply()

    assert REFUSAL in text_of(answer), text_of(answer)
    assert await alice_state(harness) == before
    assert (f"T0TEST-{BOB_ID}", "tiny") in await denied_entries(harness)
    await still_works(alice)


async def test_another_users_pending_change_cannot_be_confirmed(harness: Harness) -> None:
    alice, _ = await alice_with_a_running_server(harness)
    await alice.command(f"add-json second {json.dumps({'command': PYTHON, 'args': [server_path('tiny_server')]})}")
    confirmation = await alice.reply()
    [change_id] = await pending_ids(harness)
    assert change_id in json.dumps(confirmation)
    before = await alice_state(harness)

    bob = harness.user(BOB_ID)
    await bob.raw_click(button("change_confirm", change_id))
    answer = await bob.reply()

    assert REFUSAL in text_of(answer), text_of(answer)
    assert await alice_state(harness) == before  # `second` was not started for anyone
    assert await pending_ids(harness) == [change_id]  # still Alice's to confirm
    bob_owner = Owner(team_id="T0TEST", user_id=BOB_ID)
    assert await harness.app.servers.overview(bob_owner) == []

    await alice.click(confirmation, "change_confirm")
    done = await alice.reply(lambda m: "*Done*" in text_of(m))
    assert "`second`: ready" in text_of(done), text_of(done)


async def test_another_users_pending_change_mixed_with_ones_own_is_refused_whole(harness: Harness) -> None:
    alice = harness.user()
    entry = json.dumps({"command": PYTHON, "args": [server_path("tiny_server")]})
    await alice.command(f"add-json mine {entry}")
    await alice.reply()
    bob = harness.user(BOB_ID)
    await bob.command(f"add-json theirs {entry}")
    await bob.reply()
    alice_change, bob_change = [
        row["id"]
        for row in await harness.app.db.fetch_all(
            "SELECT id FROM pending_changes ORDER BY CASE user_id WHEN ? THEN 0 ELSE 1 END", (ALICE.user_id,)
        )
    ]

    await bob.raw_click(button("change_confirm", f"{bob_change},{alice_change}"))
    answer = await bob.reply()

    assert REFUSAL in text_of(answer), text_of(answer)
    assert sorted(await pending_ids(harness)) == sorted([alice_change, bob_change])
    assert await harness.app.servers.overview(ALICE) == []
    assert await harness.app.servers.overview(Owner(team_id="T0TEST", user_id=BOB_ID)) == []


@pytest.mark.parametrize("value", ["", ","])
async def test_a_confirm_button_carrying_no_change_ids_is_refused_and_shows_no_empty_progress(
    harness: Harness, value: str
) -> None:
    bob = harness.user(BOB_ID)
    await bob.raw_click(button("change_confirm", value))
    answer = await bob.reply()

    assert "no longer valid" in text_of(answer), text_of(answer)
    posted = [c.params for c in harness.slack.calls_to("response_url")]
    assert not any("Starting" in text_of(m) for m in posted), posted
    # Slack refuses a section whose text is empty (invalid_blocks).
    assert all(b.get("text", {}).get("text") for m in posted for b in m.get("blocks", []) if b["type"] == "section")


async def test_another_users_pending_change_cannot_be_cancelled(harness: Harness) -> None:
    alice = harness.user()
    await alice.command(f"add-json later {json.dumps({'command': PYTHON, 'args': [server_path('tiny_server')]})}")
    confirmation = await alice.reply()
    [change_id] = await pending_ids(harness)

    bob = harness.user(BOB_ID)
    await bob.raw_click(button("change_cancel", change_id))
    answer = await bob.reply()

    assert REFUSAL in text_of(answer), text_of(answer)
    assert await pending_ids(harness) == [change_id]
    await alice.click(confirmation, "change_confirm")
    assert "`later`: ready" in text_of(await alice.reply(lambda m: "*Done*" in text_of(m)))


async def test_an_edit_modal_carrying_another_users_server_id_is_refused(harness: Harness) -> None:
    alice, server_id = await alice_with_a_running_server(harness)
    view = await alice.open_modal("edit tiny")
    assert server_id in view["private_metadata"]
    before = await alice_state(harness)

    bob = harness.user(BOB_ID)
    response = await bob.submit(view, {"command": "/bin/sh", "args": "-c\nid", "env": None, "cwd": None})

    answer = response.json()
    assert answer["response_action"] == "errors"
    assert answer["errors"] == {"command": REFUSAL}
    assert await pending_ids(harness) == []
    assert await alice_state(harness) == before
    assert (f"T0TEST-{BOB_ID}", "tiny") in await denied_entries(harness)
    await still_works(alice)


async def test_a_server_id_from_another_workspace_user_with_the_same_user_id_is_refused(harness: Harness) -> None:
    alice, server_id = await alice_with_a_running_server(harness)
    before = await alice_state(harness)

    impostor = harness.user(ALICE.user_id, team_id="T0OTHER")
    await impostor.raw_click(button("remove_confirm", server_id))
    answer = await impostor.reply()

    assert REFUSAL in text_of(answer), text_of(answer)
    assert await alice_state(harness) == before
    await still_works(alice)


# -- request signing --------------------------------------------------------------------------------------------


def forged_command(harness: Harness, text: str, *, user_id: str = ALICE.user_id) -> str:
    return payloads.slash_command(
        text,
        user_id=user_id,
        team_id=ALICE.team_id,
        trigger_id=harness.slack.issue_trigger_id(user_id),
        response_url=harness.slack.new_response_url(),
    )


ADD_JSON = f"add-json forged {json.dumps({'command': PYTHON, 'args': [server_path('tiny_server')]})}"


async def assert_ignored(harness: Harness, response: Any, mark: int) -> None:
    assert response.status_code == 401, (response.status_code, response.text)
    assert harness.slack.calls[mark:] == []  # no reply, no modal, nothing posted anywhere
    assert await pending_ids(harness) == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: payloads.sign(body, "wrong-secret"), id="wrong-secret"),
        pytest.param(lambda body: payloads.sign(body, SIGNING_SECRET, int(time.time()) - 6 * 60), id="6-minutes-old"),
        pytest.param(lambda body: payloads.sign(body, SIGNING_SECRET, int(time.time()) + 6 * 60), id="6-minutes-ahead"),
        pytest.param(lambda body: {"content-type": "application/x-www-form-urlencoded"}, id="unsigned"),
        pytest.param(lambda body: payloads.sign(body + "&text=list", SIGNING_SECRET), id="body-changed-after-signing"),
    ],
)
async def test_a_slash_command_without_a_valid_recent_signature_gets_401_and_does_nothing(
    harness: Harness, headers: Any
) -> None:
    body = forged_command(harness, ADD_JSON)
    mark = harness.slack.mark()
    response = await harness.http.post("/slack/events", content=body, headers=headers(body))
    await assert_ignored(harness, response, mark)
    assert await harness.app.servers.overview(ALICE) == []


async def test_a_forged_remove_click_with_an_old_timestamp_gets_401_and_the_server_stays(harness: Harness) -> None:
    alice, server_id = await alice_with_a_running_server(harness)
    before = await alice_state(harness)
    body = payloads.block_actions(
        button("remove_confirm", server_id),
        user_id=ALICE.user_id,
        team_id=ALICE.team_id,
        trigger_id=harness.slack.issue_trigger_id(),
        response_url=harness.slack.new_response_url(),
        message={"text": "", "blocks": []},
    )
    mark = harness.slack.mark()
    stale = payloads.sign(body, SIGNING_SECRET, int(time.time()) - 10 * 60)
    response = await harness.http.post("/slack/events", content=body, headers=stale)

    await assert_ignored(harness, response, mark)
    assert await alice_state(harness) == before
    await still_works(alice)


async def test_a_correctly_signed_request_is_accepted_so_the_refusals_above_are_about_the_signature(
    harness: Harness,
) -> None:
    body = forged_command(harness, "help")
    response = await harness.http.post("/slack/events", content=body, headers=payloads.sign(body, SIGNING_SECRET))
    assert response.status_code == 200
    assert "/mcp" in response.text
