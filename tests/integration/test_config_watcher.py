"""Edit Config parity: an edit of `data/users/<owner>/mcp.json` on disk is noticed, validated and put to its owner
in a DM (nothing starts before Confirm); invalid edits are reported exactly; `mcp_remote.json` edits are undone;
the app's own mirror writes never prompt anyone.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from app.domain.config_batch import plan_import
from app.domain.config_document import decode_config_file, parse_config_document
from app.domain.errors import InvalidConfig
from app.domain.owner import Owner
from app.slack import ids
from app.slack.review_message import problem_text
from app.store.config_mirror import ConfigMirror, document_text
from app.store.mirror_watcher import MirrorWatcher
from app.store.revocation_signals import Revocation, RevocationSignals
from tests.servers import PYTHON, server_path
from tests.support.config_files import (
    OWNER,
    SETTLE,
    button_value,
    decide,
    dms,
    no_child_left,  # noqa: F401  (fixture)
    pids_of,
    servers_table,
    tiny,
    upload,
)
from tests.support.fake_slack import Call
from tests.support.harness import Harness, text_of
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("no_child_left")]

REVIEW = "You edited"
REFUSED = "was not applied"


@pytest.fixture
async def watching(harness: Harness) -> AsyncIterator[Harness]:
    """The harness with the background watcher running (the app's close() stops it)."""
    harness.app.start_background()
    with anyio.fail_after(10):
        await harness.app.watcher.ready.wait()
    yield harness


def local_file(harness: Harness) -> Path:
    return harness.data_dir / "users" / OWNER.id / "mcp.json"


async def edit_on_disk(harness: Harness, change: Callable[[dict[str, Any]], None]) -> str:
    """Change mcp.json in place, as a person with an editor would; returns the new text."""
    path = local_file(harness)
    document = json.loads(await anyio.to_thread.run_sync(path.read_text))
    change(document)
    text = json.dumps(document, indent=4)
    await anyio.to_thread.run_sync(path.write_text, text)
    return text


def as_message(call: Call) -> dict[str, Any]:
    return {"text": call.params.get("text", ""), "blocks": call.params.get("blocks") or []}


async def dm_saying(harness: Harness, words: str, *, after: int) -> dict[str, Any]:
    call = await harness.slack.wait_for(
        "chat.postMessage", lambda c: words in text_of(as_message(c)), timeout=10, after=after
    )
    assert call.ok, call.response
    return as_message(call)


async def set_up(harness: Harness, servers: dict[str, Any]) -> None:
    alice = harness.user()
    done = await decide(alice, await upload(alice, "claude_desktop_config.json", {"mcpServers": servers}))
    assert all(f"`{name}`: ready" in done for name in servers), done


async def test_a_valid_edit_on_disk_is_put_to_the_owner_and_hot_reloads_only_after_confirm(watching: Harness) -> None:
    harness = watching
    await set_up(harness, {"w": tiny("w-edit"), "gone": tiny("w-gone"), "same": tiny("w-same")})
    edited, gone, same = pids_of("w-edit"), pids_of("w-gone"), pids_of("w-same")
    before = await servers_table(harness)
    mark = harness.slack.mark()

    def change(document: dict[str, Any]) -> None:
        document["mcpServers"]["w"]["args"][2] = "echo,add"
        del document["mcpServers"]["gone"]

    await edit_on_disk(harness, change)
    review = await dm_saying(harness, REVIEW, after=mark)
    shown = text_of(review)
    assert "Change* `w`" in shown and "--tools echo,add --name w-edit" in shown and "*Remove*" in shown, shown
    assert "`gone`" in shown and "Unchanged: `same`" in shown
    assert pids_of("w-edit") == edited and pids_of("w-gone") == gone  # nothing happens before Confirm
    assert await servers_table(harness) == before

    alice = harness.user()
    await alice.click(review, ids.CONFIRM_BATCH, value=button_value(review, ids.CONFIRM_BATCH, "replace:"))
    done = text_of(await alice.reply(lambda m: "*Done*" in text_of(m), timeout=SETTLE + 5))
    assert "`w`: ready — 2 tools" in done and "Removed `gone`" in done, done
    assert pids_of("w-gone") == set()
    # The edited server's new copy serves first; its old copy stops right after (hot restart).
    await wait_until(
        lambda: pids_of("w-edit") and not pids_of("w-edit") & edited, timeout=10, what="w's old copy to give way"
    )
    assert pids_of("w-same") == same  # hot reload touched only what changed
    assert sorted(json.loads(local_file(harness).read_text())["mcpServers"]) == ["same", "w"]
    assert len(dms(harness, lambda t: REVIEW in t)) == 1  # the app's own rewrite after Confirm asked nothing


async def test_an_edit_too_big_to_review_in_one_message_is_said_and_nothing_waits_to_be_confirmed(
    watching: Harness,
) -> None:
    harness = watching
    await set_up(harness, {"kept": tiny("w-kept")})
    before = await servers_table(harness)
    mark = harness.slack.mark()
    long_args = [server_path("tiny_server"), "--flag=" + "a" * 3500, "--other=" + "b" * 3500]

    def change(document: dict[str, Any]) -> None:
        document["mcpServers"].update({f"long{i}": {"command": PYTHON, "args": long_args} for i in range(3)})

    await edit_on_disk(harness, change)
    said = text_of(await dm_saying(harness, "changes too much to review", after=mark))
    assert "Nothing was changed" in said, said
    assert await harness.app.db.fetch_all("SELECT id FROM pending_batches") == []
    assert await servers_table(harness) == before


@pytest.mark.parametrize(
    "breakage",
    [
        lambda text: text.replace('"mcpServers": {', '"mcpServers": {,', 1),
        lambda text: text.replace('"command"', '"shell": "/bin/sh", "command"', 1),
        lambda text: text.replace('"args"', '"env": {"LD_PRELOAD": "/tmp/evil.so"}, "args"', 1),
        lambda text: text.replace('"args"', '"env": {"TOKEN": "${secret:TOKEN}"}, "args"', 1),
    ],
    ids=["broken-json", "unknown-field", "dangerous-env", "missing-secret"],
)
async def test_an_invalid_edit_gets_a_dm_with_the_exact_error_and_the_running_config_stays(
    watching: Harness, breakage: Callable[[str], str]
) -> None:
    harness = watching
    await set_up(harness, {"keep": tiny("i-keep")})
    running, before = pids_of("i-keep"), await servers_table(harness)
    broken = breakage(local_file(harness).read_text())
    with pytest.raises(InvalidConfig) as caught:  # the exact error, as the parser and planner word it
        plan_import(
            parse_config_document(decode_config_file(broken.encode())), await harness.app.servers.records(OWNER)
        )
    mark = harness.slack.mark()
    await anyio.to_thread.run_sync(local_file(harness).write_text, broken)

    refusal = text_of(await dm_saying(harness, REFUSED, after=mark))
    exact = f"was not applied: {problem_text(caught.value)}"
    assert exact in refusal.replace("&lt;", "<").replace("&gt;", ">"), refusal
    assert "keep running as they were" in refusal
    assert pids_of("i-keep") == running and await servers_table(harness) == before
    assert local_file(harness).read_text() == broken  # left for the owner to fix
    assert await harness.app.db.fetch_all("SELECT id FROM pending_batches") == []


async def test_discard_puts_the_file_back_as_it_runs_and_changes_nothing(watching: Harness) -> None:
    harness = watching
    await set_up(harness, {"d": tiny("d-discard")})
    original, before = local_file(harness).read_text(), await servers_table(harness)
    mark = harness.slack.mark()
    await edit_on_disk(harness, lambda d: d["mcpServers"].update({"extra": tiny("d-extra")}))
    review = await dm_saying(harness, REVIEW, after=mark)
    assert "Add* `extra`" in text_of(review)

    alice = harness.user()
    await alice.click(review, ids.CANCEL_BATCH)
    assert "back to the config that runs" in text_of(await alice.reply())
    assert local_file(harness).read_text() == original and await servers_table(harness) == before
    assert pids_of("d-extra") == set()
    await alice.click(review, ids.CONFIRM_BATCH, value=button_value(review, ids.CONFIRM_BATCH, "replace:"))
    assert "no longer valid" in text_of(await alice.reply())


async def test_an_edit_of_mcp_remote_json_is_undone_and_the_owner_told_remote_servers_need_connect(
    watching: Harness,
) -> None:
    harness = watching
    await set_up(harness, {"l": tiny("r-local")})
    before = await servers_table(harness)
    remote_file = local_file(harness).with_name("mcp_remote.json")
    mark = harness.slack.mark()
    sneaky = {"mcpServers": {"evil": {"type": "http", "url": "https://evil.example/mcp"}}}
    await anyio.to_thread.run_sync(remote_file.write_text, json.dumps(sneaky))

    told = text_of(await dm_saying(harness, "/mcp connect", after=mark))
    assert "put `mcp_remote.json` back" in told
    assert remote_file.read_text() == document_text({"mcpServers": {}})
    assert await servers_table(harness) == before


async def test_a_deleted_mcp_json_is_written_again_from_the_database(watching: Harness) -> None:
    harness = watching
    await set_up(harness, {"x": tiny("del-x")})
    original = local_file(harness).read_text()
    mark = harness.slack.mark()
    await anyio.to_thread.run_sync(local_file(harness).unlink)
    assert "was deleted" in text_of(await dm_saying(harness, "was deleted", after=mark))
    assert local_file(harness).read_text() == original and pids_of("del-x")


async def test_the_apps_own_mirror_writes_never_prompt_the_owner(watching: Harness) -> None:
    harness = watching
    alice = harness.user()
    await set_up(harness, {"own": tiny("own-1")})  # add: the mirror is written
    for command in ("disable own", "enable own", "reload own"):  # each rewrites the mirror
        await alice.command(command)
        await alice.reply(lambda m: "own" in text_of(m))
    mark = harness.slack.mark()
    await edit_on_disk(harness, lambda d: d["mcpServers"]["own"].update({"offline": True}))  # the control edit
    await dm_saying(harness, REVIEW, after=mark)

    prompts = dms(harness, lambda t: REVIEW in t or REFUSED in t or "was deleted" in t)
    assert len(prompts) == 1 and "Change* `own`" in text_of(prompts[0])


class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, bytes | str | None]] = []
        self.changed = asyncio.Event()

    async def local_file_changed(self, owner: Owner, content: bytes | None) -> None:
        self._add(("local", owner.id, content))

    async def remote_file_changed(self, owner: Owner, content: bytes | None) -> None:
        self._add(("remote", owner.id, content))

    async def server_revoked(self, owner: Owner, server_id: str) -> None:
        self._add(("revoked", owner.id, server_id))

    def _add(self, event: tuple[str, str, bytes | str | None]) -> None:
        self.events.append(event)
        self.changed.set()

    async def next(self) -> tuple[str, str, bytes | str | None]:
        with anyio.fail_after(10):
            await self.changed.wait()
        self.changed.clear()
        return self.events[-1]


async def test_the_watcher_tells_a_foreign_edit_from_the_mirrors_own_writes_by_content(tmp_path: Path) -> None:
    mirror, recorder = ConfigMirror(tmp_path), _Recorder()
    signals = RevocationSignals(tmp_path)
    watcher = MirrorWatcher(mirror, signals, recorder, max_file_bytes=1024)
    watcher.start()
    try:
        with anyio.fail_after(10):
            await watcher.ready.wait()
        await anyio.to_thread.run_sync(mirror.write, OWNER, [])  # own write: must not be reported
        foreign = b'{"mcpServers": {"x": {"command": "uvx"}}}'
        await anyio.to_thread.run_sync(mirror.local_path(OWNER).write_bytes, foreign)
        assert await recorder.next() == ("local", OWNER.id, foreign)
        await anyio.to_thread.run_sync(mirror.write, OWNER, [])
        await anyio.to_thread.run_sync(signals.send, Revocation(OWNER.id, "server-1"))
        assert await recorder.next() == ("revoked", OWNER.id, "server-1")
        assert recorder.events == [("local", OWNER.id, foreign), ("revoked", OWNER.id, "server-1")]
        assert list(signals.directory.iterdir()) == []  # a signal is handled once
    finally:
        await watcher.close()


async def test_undoing_an_edit_by_hand_withdraws_the_question_it_raised(watching: Harness) -> None:
    harness = watching
    await set_up(harness, {"u": tiny("undo-u")})
    original, before = local_file(harness).read_text(), await servers_table(harness)
    mark = harness.slack.mark()
    await edit_on_disk(harness, lambda d: d["mcpServers"]["u"]["args"].append("--extra"))
    review = await dm_saying(harness, REVIEW, after=mark)
    mark = harness.slack.mark()
    await anyio.to_thread.run_sync(local_file(harness).write_text, original.replace("\n", "\n  "))  # same config
    # The watcher handles files one after the other, mcp.json before mcp_remote.json: once the answer to this
    # later edit of the remote file arrives, the undo above has been handled (and asked nothing).
    await anyio.to_thread.run_sync(local_file(harness).with_name("mcp_remote.json").write_text, "{}")
    await dm_saying(harness, "/mcp connect", after=mark)
    assert dms(harness, lambda t: REVIEW in t, after=mark) == []
    alice = harness.user()
    await alice.click(review, ids.CONFIRM_BATCH, value=button_value(review, ids.CONFIRM_BATCH, "replace:"))
    assert "no longer valid" in text_of(await alice.reply())
    assert await servers_table(harness) == before
