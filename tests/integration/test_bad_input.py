"""Hostile or mistaken input through the real Slack flow: a specific message, and nothing stored or started."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from app.domain.owner import Owner
from tests.servers import PYTHON, server_path
from tests.support.flows import DONE, all_worked, needs_attention
from tests.support.harness import Harness, SlackUser, text_of
from tests.support.processes import descendants_of

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id="T0TEST", user_id="U0TEST")
GOOD_FIELDS: dict[str, str | None] = {"name": "tiny", "command": PYTHON, "args": None, "env": None, "cwd": None}


# -- helpers ---------------------------------------------------------------------------------------------------


def child_processes() -> list[str]:
    """Command lines of every process this test process started (directly or not) that still exists."""
    return [entry.cmdline for entry in descendants_of().values()]


@pytest.fixture(autouse=True)
def no_process_survives() -> Iterator[None]:
    """Set up before the harness, so this check runs after the app has closed."""
    yield
    assert child_processes() == [], "a server process outlived the app"


async def pending_count(harness: Harness) -> int:
    row = await harness.app.db.fetch_one("SELECT COUNT(*) AS n FROM pending_changes")
    assert row is not None
    return int(row["n"])


def confirmations_posted(harness: Harness) -> list[dict[str, Any]]:
    return [c.params for c in harness.slack.calls_to("response_url") if "change_confirm" in json.dumps(c.params)]


async def assert_nothing_happened(harness: Harness) -> None:
    """No server stored, no pending change, no confirmation shown, no process started."""
    assert await harness.app.servers.overview(ALICE) == []
    assert await pending_count(harness) == 0
    assert confirmations_posted(harness) == []
    assert child_processes() == []


async def submit_add_modal(user: SlackUser, **fields: str | None) -> dict[str, Any]:
    view = await user.open_modal("add")
    response = await user.submit(view, {**GOOD_FIELDS, **fields})
    assert response.text, "the modal closed although the input was bad"
    answer: dict[str, Any] = response.json()
    assert answer["response_action"] == "errors", answer
    return answer["errors"]  # type: ignore[no-any-return]


async def add_json_refusal(user: SlackUser, text: str) -> str:
    response = await user.command(f"add-json {text}")
    assert response.text, "add-json gave no immediate answer"
    body = response.json()
    assert body.get("response_type") == "ephemeral"
    return str(body["text"])


async def add_tiny_and_confirm(user: SlackUser, name: str = "tiny") -> str:
    entry = {"command": PYTHON, "args": [server_path("tiny_server")]}
    await user.command(f"add-json {name} {json.dumps(entry)}")
    confirmation = await user.reply()
    await user.click(confirmation, "change_confirm")
    done = await user.reply(lambda m: "*Done*" in text_of(m))
    return text_of(done)


# -- the Add modal: one bad field at a time --------------------------------------------------------------------

MODAL_CASES: list[tuple[str, dict[str, str | None], str, str]] = [
    # name
    ("fullwidth-lookalike-name", {"name": "ｇｉｔｈｕｂ"}, "name", "Use lowercase letters, digits"),
    ("zero-width-in-name", {"name": "git\u200bhub"}, "name", "Use lowercase letters, digits"),
    ("bidi-override-in-name", {"name": "evil\u202eelif"}, "name", "Use lowercase letters, digits"),
    ("dotdot-name", {"name": ".."}, "name", "Use lowercase letters, digits"),
    ("slash-in-name", {"name": "a/b"}, "name", "Use lowercase letters, digits"),
    ("33-char-name", {"name": "a" * 33}, "name", "Names are at most 32 characters."),
    ("uppercase-name", {"name": "GitHub"}, "name", "Use lowercase letters, digits"),
    ("double-underscore-name", {"name": "a__b"}, "name", "Names cannot contain '__'"),
    ("empty-name", {"name": None}, "name", "Give the server a name."),
    ("blank-name", {"name": "   "}, "name", "Give the server a name."),
    # command
    ("empty-command", {"command": None}, "command", "Enter the program to run"),
    ("blank-command", {"command": "   "}, "command", "Enter the program to run"),
    ("command-with-spaces", {"command": "npx x; curl evil | sh"}, "command", "Put only the program in Command"),
    ("nul-in-command", {"command": "np\x00x"}, "command", "The command contains a NUL byte."),
    ("escape-in-command", {"command": "np\x1bx"}, "command", "The command contains control characters."),
    ("bidi-in-command", {"command": "np\u202ex"}, "command", "The command contains invisible characters"),
    ("long-command", {"command": "a" * 257}, "command", "The command is longer than 256 bytes."),
    # args
    ("nul-in-arg", {"args": "ok\nb\x00ad"}, "args", "Argument 2 contains a NUL byte."),
    ("too-many-args", {"args": "a\n" * 65}, "args", "At most 64 arguments (got 65)."),
    ("oversize-arg", {"args": "x" * 4097}, "args", "at most 4096 bytes"),
    ("zero-width-in-arg", {"args": "--flag\nva\u200blue"}, "args", "Argument 2 contains invisible characters"),
    # env
    ("env-line-without-equals", {"env": "JUSTANAME"}, "env", "Line 1 is not `KEY=value`."),
    ("env-empty-name", {"env": "=value"}, "env", "An environment variable has an empty name."),
    ("env-lowercase-name", {"env": "api_key=1"}, "env", "`api_key` is not a valid variable name"),
    ("env-unicode-name", {"env": "ÄPI=1"}, "env", "is not a valid variable name"),
    ("env-name-with-space", {"env": "API KEY=1"}, "env", "`API KEY` is not a valid variable name"),
    ("env-nul-in-value", {"env": "TOKEN=a\x00b"}, "env", "The value of TOKEN contains a NUL byte."),
    ("env-twice", {"env": "A=1\nA=2"}, "env", "`A` is set twice."),
    ("env-LD_PRELOAD", {"env": "LD_PRELOAD=/tmp/evil.so"}, "env", "`LD_PRELOAD` cannot be set"),
    ("env-NODE_OPTIONS", {"env": "NODE_OPTIONS=--require /tmp/x.js"}, "env", "`NODE_OPTIONS` cannot be set"),
    ("env-PYTHONPATH", {"env": "PYTHONPATH=/tmp"}, "env", "`PYTHONPATH` cannot be set"),
    ("env-PATH", {"env": "PATH=/tmp"}, "env", "`PATH` cannot be set"),
    ("env-HOME", {"env": "HOME=/root"}, "env", "`HOME` cannot be set"),
    ("env-OPENSSL_CONF", {"env": "OPENSSL_CONF=/tmp/evil.cnf"}, "env", "`OPENSSL_CONF` cannot be set"),
    ("env-NODE_TLS", {"env": "NODE_TLS_REJECT_UNAUTHORIZED=0"}, "env", "`NODE_TLS_REJECT_UNAUTHORIZED` cannot be set"),
    ("env-too-many", {"env": "\n".join(f"K{i}=v" for i in range(33))}, "env", "At most 32 environment variables"),
    # cwd
    ("cwd-dotdot", {"cwd": "../../.."}, "cwd", "The working directory cannot contain `..`."),
    ("cwd-nul", {"cwd": "a\x00b"}, "cwd", "The working directory contains a NUL byte."),
]


@pytest.mark.parametrize(("fields", "block", "message"), [c[1:] for c in MODAL_CASES], ids=[c[0] for c in MODAL_CASES])
async def test_a_bad_field_in_the_add_modal_is_an_inline_error_on_that_field_and_nothing_is_stored(
    harness: Harness, fields: dict[str, str | None], block: str, message: str
) -> None:
    alice = harness.user()
    errors = await submit_add_modal(alice, **fields)

    assert list(errors) == [block], errors
    assert message in errors[block], errors[block]
    await assert_nothing_happened(harness)


async def test_an_env_line_with_two_equals_signs_sets_the_first_name_to_the_rest(harness: Harness) -> None:
    alice = harness.user()
    view = await alice.open_modal("add")
    response = await alice.submit(view, {**GOOD_FIELDS, "env": "DSN=host=db;password=p4ss"})
    assert response.text == ""  # accepted: the modal closes

    confirmation = await alice.reply()
    shown = text_of(confirmation)
    assert "DSN" in shown
    assert "p4ss" not in json.dumps(confirmation) and "host=db" not in json.dumps(confirmation)
    assert await pending_count(harness) == 1
    assert await harness.app.servers.overview(ALICE) == []
    assert child_processes() == []


async def test_adding_a_name_that_already_exists_is_an_inline_error_on_name(harness: Harness) -> None:
    alice = harness.user()
    assert "ready" in await add_tiny_and_confirm(alice)
    before = [(o.record.id, o.record.name, o.record.version) for o in await harness.app.servers.overview(ALICE)]
    confirmations = len(confirmations_posted(harness))

    errors = await submit_add_modal(alice, name="tiny", args=server_path("tiny_server"))
    assert errors == {"name": "You already have a server named `tiny`. Pick another name or use `/mcp edit tiny`."}

    after = [(o.record.id, o.record.name, o.record.version) for o in await harness.app.servers.overview(ALICE)]
    assert after == before
    assert await pending_count(harness) == 0
    assert len(confirmations_posted(harness)) == confirmations


async def test_add_json_with_a_name_that_already_exists_is_refused_with_a_message(harness: Harness) -> None:
    alice = harness.user()
    assert "ready" in await add_tiny_and_confirm(alice)
    before = [(o.record.id, o.record.version) for o in await harness.app.servers.overview(ALICE)]

    await alice.command('add-json tiny {"command": "npx"}')
    answer = await alice.reply()
    assert "You already have a server named `tiny`" in text_of(answer)
    assert "change_confirm" not in json.dumps(answer)
    assert [(o.record.id, o.record.version) for o in await harness.app.servers.overview(ALICE)] == before
    assert await pending_count(harness) == 0


async def test_two_pending_adds_of_one_name_cannot_both_be_confirmed(harness: Harness) -> None:
    alice = harness.user()
    entry = json.dumps({"command": PYTHON, "args": [server_path("tiny_server")]})
    await alice.command(f"add-json twin {entry}")
    first = await alice.reply()
    await alice.command(f"add-json twin {entry}")
    second = await alice.reply()

    await alice.click(first, "change_confirm")
    assert "ready" in text_of(await alice.reply(all_worked))
    await alice.click(second, "change_confirm")
    done = text_of(await alice.reply(needs_attention))

    assert "You already have a server named `twin`" in done, done
    assert "Nothing was saved for `twin`" in done and DONE not in done, done
    assert [o.record.name for o in await harness.app.servers.overview(ALICE)] == ["twin"]
    assert len([c for c in child_processes() if "tiny_server.py" in c and "bwrap" not in c]) == 1


# -- /mcp add-json -------------------------------------------------------------------------------------------

ADD_JSON_CASES: list[tuple[str, str, str]] = [
    ("truncated", 'x {"command": "npx"', "Not valid JSON"),
    ("not-json", "x this is not json", "Not valid JSON"),
    ("duplicate-key", 'x {"command": "safe", "command": "evil"}', "The key `command` appears twice"),
    ("unknown-field-shell", 'x {"command": "npx", "shell": "/bin/sh"}', "unknown field `shell`"),
    ("unknown-field-user", 'x {"command": "npx", "user": "root"}', "unknown field `user`"),
    ("oversize", 'x {"command": "npx", "args": ["' + "a" * 70_000 + '"]}', "larger than 64 KB"),
    ("remote-http", '{"mcpServers": {"r": {"type": "http", "url": "https://example.com/mcp"}}}', "/mcp connect"),
    (
        "remote-with-headers",
        'r {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer t"}}',
        "/mcp connect",
    ),
    ("nan", 'x {"command": "npx", "args": [NaN]}', "`NaN` is not allowed"),
    ("huge-int", 'x {"command": "npx", "args": [' + "9" * 5000 + "]}", "number that is too long"),
    ("deep-nesting", "x " + "[" * 5000, "nested more than 32 levels"),
    ("nul-escape-in-command", 'x {"command": "np\\u0000x"}', "NUL byte"),
    ("lone-surrogate", 'x {"command": "\\ud800"}', "invalid Unicode"),
    ("dangerous-env", 'x {"command": "npx", "env": {"LD_PRELOAD": "/tmp/evil.so"}}', "`LD_PRELOAD` cannot be set"),
    ("env-name-with-equals", 'x {"command": "npx", "env": {"A=B": "c"}}', "`A=B` is not a valid variable name"),
    ("env-empty-name", 'x {"command": "npx", "env": {"": "c"}}', "empty name"),
    ("lookalike-name", 'ｇｉｔｈｕｂ {"command": "npx"}', "Server name `ｇｉｔｈｕｂ`"),
    ("unnamed", '{"command": "npx"}', "/mcp add-json NAME"),
    ("command-with-spaces", 'x {"command": "npx x; curl evil | sh"}', "Put only the program in Command"),
    ("empty", "", "Paste a JSON config"),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in ADD_JSON_CASES], ids=[c[0] for c in ADD_JSON_CASES])
async def test_bad_add_json_is_answered_at_once_with_a_specific_message_and_nothing_is_stored(
    harness: Harness, text: str, message: str
) -> None:
    alice = harness.user()
    answer = await add_json_refusal(alice, text)

    assert answer.startswith(":x:"), answer
    assert message in answer, answer
    assert harness.slack.calls_to("response_url") == []
    await assert_nothing_happened(harness)


async def test_an_env_value_naming_an_app_secret_reaches_the_server_literally_and_no_app_secret_does(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-canary-from-the-app-environment")
    monkeypatch.setenv("PLUGBOARD_ENCRYPTION_KEYS", "canary-key-spec")
    alice = harness.user()
    entry = {"command": PYTHON, "args": [server_path("env_dump_server")], "env": {"TOKEN": "${SLACK_BOT_TOKEN}"}}
    await alice.command(f"add-json envdump {json.dumps(entry)}")
    confirmation = await alice.reply()
    await alice.click(confirmation, "change_confirm")
    assert "ready" in text_of(await alice.reply(lambda m: "*Done*" in text_of(m)))

    await alice.command("call envdump dump_env")
    shown = text_of(await alice.reply())
    assert '"TOKEN": "${SLACK_BOT_TOKEN}"' in shown, shown
    for secret in ("xoxb-canary-from-the-app-environment", "canary-key-spec", harness.slack.bot_token):
        assert secret not in shown
    assert "SLACK_SIGNING_SECRET" not in shown and "PLUGBOARD_" not in shown


# -- Slack mrkdwn in what users type is shown, never acted on --------------------------------------------------

PINGS_AND_LINKS = ("<!channel>", "<!here>", "<https://evil.example|ok>", "<@U0BOB>")


def raw_mrkdwn_in(message: Any) -> list[str]:
    dumped = json.dumps(message, ensure_ascii=False)
    return [token for token in PINGS_AND_LINKS if token in dumped]


async def test_mrkdwn_in_a_server_name_is_escaped_in_the_refusal(harness: Harness) -> None:
    alice = harness.user()
    answer = await add_json_refusal(alice, '<!channel> {"command": "npx"}')
    assert "&lt;!channel&gt;" in answer and raw_mrkdwn_in(answer) == []

    await alice.command("remove <https://evil.example|ok>")
    reply = await alice.reply()
    assert "You have no server named" in text_of(reply)
    assert raw_mrkdwn_in(reply) == []
    await assert_nothing_happened(harness)


async def test_mrkdwn_in_arguments_is_shown_escaped_in_the_confirmation(harness: Harness) -> None:
    alice = harness.user()
    entry = {"command": "npx", "args": list(PINGS_AND_LINKS), "cwd": "<!everyone>"}
    await alice.command(f"add-json pingy {json.dumps(entry)}")
    confirmation = await alice.reply()

    assert raw_mrkdwn_in(confirmation) == [] and "<!everyone>" not in json.dumps(confirmation)
    shown = text_of(confirmation)
    assert "&lt;!channel&gt;" in shown and "&lt;https://evil.example|ok&gt;" in shown
    assert child_processes() == []


async def test_mrkdwn_in_an_env_name_is_escaped_in_the_inline_error(harness: Harness) -> None:
    alice = harness.user()
    errors = await submit_add_modal(alice, env="<!here>=1")
    assert "is not a valid variable name" in errors["env"]
    # Inline modal errors are plain text in Slack, so nothing there can ping; the name is shown as typed.
    await assert_nothing_happened(harness)
