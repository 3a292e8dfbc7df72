"""/mcp download DMs the owner their config as files (placeholders, never secrets), and uploading those files
again changes nothing at all: the round trip leaves the database exactly as it was.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from app.domain.remote_config import ApiKeyAuth, RemoteServerConfig
from app.domain.server import ServerRecord
from app.slack import ids
from app.store.server_repository import ServerRepository
from tests.support.config_files import (
    OWNER,
    decide,
    everything_sent_and_written,
    has_button,
    no_child_left,  # noqa: F401  (fixture)
    servers_table,
    tiny,
    upload,
)
from tests.support.harness import Harness, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("no_child_left")]

SECRETS = ("download-secret-env-0001", "download-secret-env-0002", "Bearer download-remote-key-0003")


async def _remote_server(harness: Harness) -> None:
    """A remote server as /mcp connect would store it (connecting one for real needs a live OAuth/HTTP peer)."""
    repo: ServerRepository = harness.app.servers._repo
    config = RemoteServerConfig(url="https://mcp.example.com/mcp", transport="http", auth=ApiKeyAuth(value=SECRETS[2]))
    now = time.time()
    record = ServerRecord(
        id=uuid.uuid4().hex,
        owner=OWNER,
        name="docs",
        config=config,
        enabled=False,
        approved_hash=config.approval_hash(),
        version=1,
        created_at=now,
        updated_at=now,
    )
    async with harness.app.db.transaction() as conn:
        await repo.insert(conn, record)
    await harness.app.servers.rewrite_mirror(OWNER)


async def _download(harness: Harness) -> dict[str, str]:
    alice = harness.user()
    mark = harness.slack.mark()
    await alice.command("download")
    assert "to your DM" in text_of(await alice.reply())
    await harness.slack.wait_for("files.completeUploadExternal", after=mark)
    shared = [f for f in harness.slack.uploaded_files if f.channel_id == harness.slack.dm_channel(OWNER.user_id)]
    return {f.filename: f.text for f in shared}


async def test_download_sends_mcp_json_to_the_owners_dm_channel_with_placeholders_instead_of_secrets(
    harness: Harness,
) -> None:
    alice = harness.user()
    document = {"mcpServers": {"alpha": tiny("d-alpha", env={"API_TOKEN": SECRETS[0]})}}
    assert "ready" in await decide(alice, await upload(alice, "claude_desktop_config.json", document))

    files = await _download(harness)
    assert list(files) == ["mcp.json"]  # no remote servers, so no mcp_remote.json
    complete = harness.slack.calls_to("files.completeUploadExternal")[-1]
    assert complete.ok and complete.params["channel_id"].startswith("D")
    downloaded = json.loads(files["mcp.json"])
    assert downloaded["mcpServers"]["alpha"]["env"] == {"API_TOKEN": "${secret:API_TOKEN}"}
    assert downloaded["mcpServers"]["alpha"]["args"][-2:] == ["--name", "d-alpha"]
    assert SECRETS[0] not in everything_sent_and_written(harness)


async def test_download_then_upload_round_trip_leaves_the_database_unchanged(harness: Harness) -> None:
    alice = harness.user()
    document = {
        "mcpServers": {
            "running": tiny("rt-running", env={"API_TOKEN": SECRETS[0], "OTHER": SECRETS[1]}),
            "stopped": {**tiny("rt-stopped"), "disabled": True},
            "offline": {**tiny("rt-offline"), "offline": True, "cwd": "work"},
        }
    }
    review = await upload(alice, "claude_desktop_config.json", document)
    assert "imported disabled" in text_of(review)
    done = await decide(alice, review)
    assert "`stopped` was added disabled" in done and "`running`: ready" in done and "`offline`: ready" in done
    await _remote_server(harness)
    before = await servers_table(harness)

    files = await _download(harness)
    assert sorted(files) == ["mcp.json", "mcp_remote.json"]
    assert json.loads(files["mcp_remote.json"])["mcpServers"]["docs"]["headers"] == {
        "Authorization": "${secret:api_key}"
    }
    for name, text in files.items():
        again = await upload(alice, name, text)
        assert "Nothing to change" in text_of(again), text_of(again)
        assert not has_button(again, ids.CONFIRM_BATCH) and not has_button(again, ids.CONNECT_PREFILLED)

    assert await servers_table(harness) == before  # byte for byte: versions, ciphertexts, timestamps
    assert await harness.app.db.fetch_all("SELECT id FROM pending_batches") == []
    written = everything_sent_and_written(harness)
    assert not any(secret in written for secret in SECRETS)


async def test_download_with_no_servers_says_there_is_nothing_to_download(harness: Harness) -> None:
    alice = harness.user()
    await alice.command("download")
    assert "nothing to download" in text_of(await alice.reply())
    assert harness.slack.uploaded_files == []


async def test_a_refused_upload_to_the_dm_is_explained(harness: Harness) -> None:
    alice = harness.user()
    await decide(alice, await upload(alice, "claude_desktop_config.json", {"mcpServers": {"t": tiny("refused")}}))
    harness.slack.fail_next("files.getUploadURLExternal", "missing_scope")
    await alice.command("download")
    assert "`missing_scope`" in text_of(await alice.reply())
    assert harness.slack.uploaded_files == []
