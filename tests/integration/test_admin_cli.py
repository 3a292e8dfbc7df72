"""`python -m app admin`: list owners and servers, export an owner's config, revoke a server -- with no Slack
token, while the app runs; the running app stops a revoked server on its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import anyio
import pytest

from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from app.store.audit_log import AuditLog
from tests.support.config_files import (
    OWNER,
    decide,
    everything_sent_and_written,
    no_child_left,  # noqa: F401  (fixture)
    pids_of,
    servers_table,
    tiny,
    upload,
)
from tests.support.harness import REPO_ROOT, Harness

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("no_child_left")]

SECRET = "admin-cli-secret-0001"


async def admin(data_dir: Path, *args: str) -> tuple[int, str, str]:
    """Run the CLI as an operator would: its own process, only the data dir set, no Slack settings at all."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PLUGBOARD_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(REPO_ROOT),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        "admin",
        *args,
        cwd=data_dir.parent,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        with anyio.fail_after(30):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_list_and_export_show_owners_servers_and_placeholders_never_secrets(harness: Harness) -> None:
    alice = harness.user()
    document = {
        "mcpServers": {
            "tiny": tiny("cli-tiny", env={"API_TOKEN": SECRET}),
            "off": {**tiny("cli-off"), "disabled": True},
        }
    }
    await decide(alice, await upload(alice, "claude_desktop_config.json", document))

    code, out, err = await admin(harness.data_dir, "list")
    assert code == 0, err
    assert f"{OWNER.id}  (2 servers)" in out
    assert "tiny" in out and "enabled" in out and "--name cli-tiny" in out and "disabled" in out
    code, out, err = await admin(harness.data_dir, "export", OWNER.id)
    assert code == 0, err
    assert out == (harness.data_dir / "users" / OWNER.id / "mcp.json").read_text()
    assert json.loads(out)["mcpServers"]["tiny"]["env"] == {"API_TOKEN": "${secret:API_TOKEN}"}
    assert SECRET not in out + err and SECRET not in everything_sent_and_written(harness)


async def test_revoke_disables_and_audits_and_the_running_app_stops_the_server(harness: Harness) -> None:
    harness.app.start_background()
    with anyio.fail_after(10):
        await harness.app.watcher.ready.wait()
    alice = harness.user()
    await decide(
        alice,
        await upload(
            alice, "claude_desktop_config.json", {"mcpServers": {"bad": tiny("cli-bad"), "good": tiny("cli-good")}}
        ),
    )
    bad_id = (await harness.app.servers.get(OWNER, "bad")).record.id
    assert pids_of("cli-bad") and harness.app.sessions.is_live(bad_id)
    stopped = asyncio.Event()

    def on_status(record: ServerRecord, status: ServerStatus) -> None:
        if record.id == bad_id and status.state == "stopped":
            stopped.set()

    harness.app.sessions.on_status(on_status)
    code, out, err = await admin(harness.data_dir, "revoke", OWNER.id, "bad", "--reason", "incident 42")
    assert code == 0, err
    assert "revoked bad" in out

    with anyio.fail_after(10):
        await stopped.wait()  # the app saw the CLI's signal and stopped it, without a restart
    assert not harness.app.sessions.is_live(bad_id) and pids_of("cli-bad") == set() and pids_of("cli-good")
    rows = {row["name"]: row for row in await servers_table(harness)}
    assert rows["bad"]["enabled"] == 0 and rows["good"]["enabled"] == 1
    entry = (await AuditLog(harness.app.db).recent(OWNER, 1))[0]
    assert (entry.action, entry.server_name, entry.detail["reason"]) == ("revoked", "bad", "incident 42")
    mirror = json.loads((harness.data_dir / "users" / OWNER.id / "mcp.json").read_text())
    assert mirror["mcpServers"]["bad"]["disabled"] is True
    assert list((harness.data_dir / "revocations").iterdir()) == []


async def test_the_cli_says_clearly_what_it_cannot_do(harness: Harness, tmp_path: Path) -> None:
    code, _, err = await admin(harness.data_dir, "revoke", OWNER.id, "nope")
    assert code == 1 and "no server named `nope`" in err
    code, _, err = await admin(harness.data_dir, "export", "not-an/owner")
    assert code == 1 and "not an owner id" in err
    code, _, err = await admin(tmp_path / "empty", "list")
    assert code == 2 and "no Plugboard database" in err
