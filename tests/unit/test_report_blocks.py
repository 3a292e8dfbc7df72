"""The report after a change: `Done` only when everything worked; otherwise it ends with what to do next."""

from __future__ import annotations

from typing import Any

from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.domain.remote_config import ApiKeyAuth, RemoteServerConfig
from app.domain.server import ServerRecord
from app.domain.server_config import ServerConfig
from app.domain.status import ServerStatus
from app.slack import ids
from app.slack.blocks.report import NextStep, next_step, not_saved_step, refused_batch_step, report_message
from tests.support.blockkit import message_problems
from tests.support.harness import text_of

OWNER = Owner(team_id="T0TEST", user_id="U0TEST")
LOCAL = LocalServerConfig(command="npx", args=("-y", "some-server@1.0.0"))
KEYED = RemoteServerConfig(url="https://mcp.example.com/mcp", auth=ApiKeyAuth(header="X-API-Key", value="k" * 20))
ADVISED_ERROR = ServerStatus("error", "the server exited. What you can do: fix the command with `/mcp edit x`.")


def record(name: str, config: ServerConfig = LOCAL) -> ServerRecord:
    return ServerRecord(
        id=f"id-{name}",
        owner=OWNER,
        name=name,
        config=config,
        enabled=True,
        approved_hash=config.approval_hash(),
        version=1,
        created_at=0,
        updated_at=0,
    )


def shown(title: str, lines: list[str], steps: list[NextStep]) -> tuple[str, dict[str, Any]]:
    text, blocks = report_message(title, lines, steps)
    assert message_problems(text=text, blocks=blocks) == []
    return text_of({"text": text, "blocks": blocks}), {"text": text, "blocks": blocks}


def test_a_report_where_everything_worked_is_titled_done_and_offers_nothing_to_do() -> None:
    ready = ServerStatus("ready", tool_count=2)
    assert next_step(record("tiny"), ready) is None
    text, message = shown("Done", [":white_check_mark: `tiny`: ready — 2 tools"], [])
    assert message["blocks"][0]["text"]["text"] == "*Done*"
    assert "What to do next" not in text


def test_a_report_with_a_failure_never_says_done_and_ends_with_the_next_step_and_its_button() -> None:
    step = next_step(record("ghost"), ADVISED_ERROR)
    assert step is not None
    text, message = shown("Done", [":x: `ghost`: error — the server exited"], [step])
    assert "*Done*" not in text and "Done" not in text
    assert "*Not everything worked*" in text and "*What to do next*" in text
    last = message["blocks"][-1]
    assert last["text"]["text"].endswith("Press *Edit* to change the command, arguments or environment of `ghost`.")
    assert last["accessory"]["action_id"] == ids.FIX_SERVER and last["accessory"]["value"] == "edit:id-ghost"


def test_the_next_step_of_a_failure_that_already_names_its_commands_does_not_repeat_them() -> None:
    advised = next_step(record("ghost"), ADVISED_ERROR)
    bare = next_step(record("ghost"), ServerStatus("error", "you already have 10 servers running; disable one first"))
    assert advised is not None and bare is not None
    assert "/mcp" not in advised.text
    assert "`/mcp edit ghost`" in bare.text and "`/mcp reload ghost`" in bare.text


def test_a_rejected_api_key_offers_to_re_enter_it_from_a_button_or_with_mcp_edit() -> None:
    rejected = ServerStatus("error", "the server refused the API key in `X-API-Key` (HTTP 401); check the key")
    step = next_step(record("keyed", KEYED), rejected)
    assert step is not None
    assert "`/mcp edit keyed`" in step.text
    assert step.action == (ids.FIX_SERVER, "edit:id-keyed", "Re-enter API key")


def test_a_server_waiting_for_a_sign_in_offers_to_sign_in_again() -> None:
    step = next_step(record("oauthy", KEYED), ServerStatus("needs_auth"))
    assert step is not None and step.action == (ids.FIX_SERVER, "reconnect:id-oauthy", "Sign in again")


def test_enabled_and_reloaded_reports_keep_their_title_and_still_end_with_what_to_do() -> None:
    step = next_step(record("slow"), ServerStatus("starting"))
    assert step is not None
    text, _ = shown("Reloaded", [":x: `slow`: starting…"], [step])
    assert text.count("*Reloaded*") == 1 and text.rstrip().endswith("`/mcp reload slow` starts it again.")


def test_a_change_refused_whole_for_lack_of_room_can_be_tried_again_with_the_same_confirmation() -> None:
    step = refused_batch_step(["c1", "c2"], can_retry=True)
    assert step.action == (ids.CONFIRM_CHANGE, "c1,c2", "Try again")
    assert refused_batch_step(["c1"], can_retry=False).action is None
    assert "`twin`" in not_saved_step("twin").text


def test_a_report_of_many_failures_with_long_messages_stays_one_valid_message() -> None:
    records = [record(f"server-{n}") for n in range(40)]
    lines = [f":x: `{r.name}`: error — " + "x" * 2500 for r in records]
    steps = [s for r in records if (s := next_step(r, ADVISED_ERROR)) is not None]
    text, message = shown("Done", lines, steps)
    assert len(message["blocks"]) <= 50
    assert "and 30 more: see `/mcp list`" in text
