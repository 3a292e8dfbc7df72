"""Guardrails on what servers send (result and description caps, stripped and escaped text) and the audit log
(every call and every change recorded; owners read their own entries, admins everyone's)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.domain.owner import Owner
from tests.servers import PYTHON, server_path
from tests.support.flows import add_ready_server, allow_with_confirmation, call, result_text
from tests.support.harness import Harness, policy_toml, text_of
from tests.support.processes import live_descendants

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id="T0TEST", user_id="U0TEST")
BOB = Owner(team_id="T0TEST", user_id="U0BOB")
ADMIN = Owner(team_id="T0TEST", user_id="U0ADMIN")
SLACK_CAP, AGENT_CAP, DESCRIPTION_CAP = 500, 1000, 300
POLICY = 'admins = ["U0ADMIN"]\n' + policy_toml(
    extra=(
        f"[limits]\nresult_chars_slack = {SLACK_CAP}\nresult_chars_agent = {AGENT_CAP}\n"
        f"description_chars = {DESCRIPTION_CAP}\n"
    )
)
RISKY = {"command": PYTHON, "args": [server_path("risky_server")]}
TINY = {"command": PYTHON, "args": [server_path("tiny_server")]}
INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


@pytest.fixture(autouse=True)
def nothing_left_running() -> Iterator[None]:
    yield
    assert live_descendants() == [], "a server process survived the app"


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with Harness.running(tmp_path, policy=POLICY) as running:
        yield running


async def audit(harness: Harness, owner: Owner, action: str) -> list[dict[str, Any]]:
    rows = await harness.app.db.fetch_all(
        "SELECT detail_json FROM audit_log WHERE owner_id = ? AND action = ? ORDER BY id", (owner.id, action)
    )
    return [json.loads(row["detail_json"]) for row in rows]


# -- result caps ------------------------------------------------------------------------------------------------


async def test_a_long_result_is_cut_for_slack_with_a_visible_note_of_how_much_was_cut(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "risky", RISKY)

    answer = await call(alice, "risky", "big_result", {"chars": 5000})

    shown = result_text(answer)
    assert shown == "A" * SLACK_CAP
    assert f"Result cut: {5000 + len('<END>') - SLACK_CAP} more characters were not shown." in answer
    [entry] = await audit(harness, ALICE, "tool_call")
    assert entry["truncated"] is True and entry["result_chars"] == 5005 and entry["result_bytes"] == 5005


async def test_a_long_result_is_cut_for_the_agent_at_its_own_limit_with_the_cut_noted_in_the_text(
    harness: Harness,
) -> None:
    await add_ready_server(harness.user(), "risky", RISKY)

    outcome = await harness.app.tools.call(ALICE, "risky", "big_result", '{"chars": 5000}', for_agent=True)

    assert outcome.text == "A" * AGENT_CAP + f"\n…[truncated {5005 - AGENT_CAP} characters]"
    assert outcome.truncated_chars == 5005 - AGENT_CAP


async def test_a_short_result_is_shown_whole_without_a_note(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "risky", RISKY)
    answer = await call(alice, "risky", "big_result", {"chars": 10})
    assert result_text(answer) == "A" * 10 + "<END>" and "Result cut" not in answer


# -- hostile text -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", ["nasty_result", "nasty_error", "nasty_protocol_error"])
async def test_hostile_text_in_a_result_or_error_is_stripped_and_escaped_and_cannot_ping_or_link(
    harness: Harness, tool: str
) -> None:
    alice = harness.user()
    await add_ready_server(alice, "risky", RISKY)

    await alice.command(f"call risky {tool}")
    message = await alice.reply()

    raw = json.dumps(message, ensure_ascii=False)
    shown = text_of(message)
    assert "&lt;!channel&gt;" in shown and "&lt;https://evil.example|click here&gt;" in shown, shown
    assert "<!channel>" not in raw and "<https://evil.example" not in raw
    assert not INVISIBLE.search(shown), repr(shown)
    assert "red" in shown and "bell" in shown and "zerowidth" in shown  # the visible text survives
    for block in message.get("blocks", [])[1:]:
        body = block.get("text", {}).get("text", "")
        if body.startswith("```"):
            assert "```" not in body[3:-3], body  # the server cannot close our code block early
    if tool != "nasty_result":
        assert ":x:" in shown and len(raw) < 5000  # a 100 KB error message is cut short


async def test_tool_descriptions_are_capped_stripped_and_escaped_wherever_they_are_shown(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "risky", RISKY)

    [poisoned] = [t for t in harness.app.tools.all_tools(ALICE) if t.tool.name == "poisoned"]
    assert len(poisoned.description) <= DESCRIPTION_CAP  # what the model would read, from a 100 KB description
    assert not INVISIBLE.search(poisoned.description)
    await alice.command("tools risky")
    listing = text_of(await alice.reply())
    assert "&lt;!channel&gt;" in listing and "<!channel>" not in listing
    assert not INVISIBLE.search(listing)
    assert len(listing) < 5000

    await alice.command("allow risky poisoned")
    warning = text_of(await alice.reply())
    assert "talks to the AI" in warning and "&lt;IMPORTANT&gt;" in warning and "<IMPORTANT>" not in warning


# -- the audit log ----------------------------------------------------------------------------------------------


async def test_every_tool_call_is_audited_with_pin_args_digest_redacted_preview_outcome_duration_and_size(
    harness: Harness,
) -> None:
    alice = harness.user()
    await add_ready_server(alice, "risky", RISKY)
    arguments = {"query": "xoxb-1234-secret-token"}

    await call(alice, "risky", "lookup", arguments)
    await call(alice, "risky", "nasty_error")
    await call(alice, "risky", "run_shell", {"command": "id", "api_key": "hunter2"})

    ok, failed = await audit(harness, ALICE, "tool_call")
    [lookup] = [t for t in harness.app.tools.all_tools(ALICE) if t.tool.name == "lookup"]
    assert ok["tool"] == "lookup" and ok["pin"] == lookup.pin and len(ok["pin"]) == 64
    assert ok["args_sha256"] == hashlib.sha256(json.dumps(arguments, sort_keys=True).encode()).hexdigest()
    assert ok["args_preview"] == '{"query": "***"}'  # a credential-shaped value is masked whatever its key
    assert ok["outcome"] == "ok" and isinstance(ok["duration_ms"], int)
    assert ok["result_chars"] == len("found: xoxb-1234-secret-token") and ok["truncated"] is False
    assert failed["tool"] == "nasty_error" and failed["outcome"] == "tool_error"
    [refused] = await audit(harness, ALICE, "tool_call_refused")
    assert refused == {"tool": "run_shell", "state": "denied"}
    rows = await harness.app.db.fetch_all("SELECT detail_json FROM audit_log")
    stored = " ".join(row["detail_json"] for row in rows)
    assert "xoxb-1234-secret-token" not in stored and "hunter2" not in stored
    assert "found:" not in stored  # results are never stored


async def test_config_approval_and_policy_changes_are_audited(harness: Harness) -> None:
    alice = harness.user()
    await add_ready_server(alice, "risky", RISKY)
    await allow_with_confirmation(alice, "risky", "run_shell")
    await alice.command("deny risky lookup")
    await alice.reply()
    await alice.command("disable risky")
    await alice.reply()

    rows = await harness.app.db.fetch_all(
        "SELECT action, detail_json FROM audit_log WHERE owner_id = ? ORDER BY id", (ALICE.id,)
    )
    actions = [(row["action"], json.loads(row["detail_json"]).get("tool")) for row in rows]
    assert actions == [
        ("approved_add", None),
        ("tool_allowed", "run_shell"),
        ("tool_denied", "lookup"),
        ("disabled", None),
    ], actions
    [approved] = await audit(harness, ALICE, "approved_add")
    assert len(approved["config_sha256"]) == 64


async def test_mcp_audit_shows_the_owner_their_own_last_entries_only(harness: Harness) -> None:
    alice, bob = harness.user(), harness.user(BOB.user_id)
    await add_ready_server(alice, "mine", TINY)
    await add_ready_server(bob, "theirs", TINY)
    await call(alice, "mine", "echo", {"message": "a"})
    await call(bob, "theirs", "echo", {"message": "b"})

    await alice.command("audit 2")
    shown = text_of(await alice.reply())

    lines = [line for line in shown.splitlines() if line.startswith("`")]
    assert len(lines) == 2, shown
    assert "*tool_call*" in lines[0] and "`mine`" in lines[0] and "tool=echo" in lines[0]
    assert "*approved_add*" in lines[1]
    assert "theirs" not in shown and BOB.id not in shown

    await alice.command("audit")
    assert "theirs" not in text_of(await alice.reply())


async def test_admins_read_everyones_audit_entries_and_other_users_cannot(harness: Harness) -> None:
    alice, bob, admin = harness.user(), harness.user(BOB.user_id), harness.user(ADMIN.user_id)
    await add_ready_server(alice, "mine", TINY)
    await add_ready_server(bob, "theirs", TINY)

    await bob.command("audit everyone")
    assert "Only Plugboard admins can read everyone's audit log." in text_of(await bob.reply())

    await admin.command("audit everyone 10")
    shown = text_of(await admin.reply())
    assert ALICE.id in shown and BOB.id in shown and "`mine`" in shown and "`theirs`" in shown, shown
