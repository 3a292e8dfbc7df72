"""The admin policy decides how local servers run: sandboxed (default), catalog, trusted (loudly) or off.
A sandbox that does not work is never silently skipped: local servers are refused with the reason and a hint
for the admin."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from app.domain.owner import Owner
from tests.servers import PYTHON, server_path
from tests.support.fake_slack import FakeSlack
from tests.support.flows import add_ready_server, call, result_text
from tests.support.harness import REPO_ROOT, Harness, SlackUser, policy_toml, text_of
from tests.support.processes import live_descendants

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id="T0TEST", user_id="U0TEST")
TINY = {"command": PYTHON, "args": [server_path("tiny_server")]}
ENV_DUMP = {"command": PYTHON, "args": [server_path("env_dump_server")]}
ADMIN_HINT = "Admin: install bubblewrap"


@pytest.fixture(autouse=True)
def nothing_left_running() -> Iterator[None]:
    yield
    assert live_descendants() == [], "a server process survived the app"


def catalog_policy() -> str:
    entry = (
        f"[[local_servers.catalog]]\ncommand = {json.dumps(PYTHON)}\nargs_prefix = [{json.dumps(TINY['args'][0])}]\n"
    )
    return policy_toml(mode="catalog", extra=entry)


async def refusal(user: SlackUser, name: str, entry: dict[str, object]) -> str:
    """Propose a server with `/mcp add-json`; the answer must be a refusal with no Confirm button."""
    await user.command(f"add-json {name} {json.dumps(entry)}")
    answer = await user.reply()
    assert "change_confirm" not in json.dumps(answer), text_of(answer)
    return text_of(answer)


async def nothing_stored(harness: Harness) -> None:
    assert await harness.app.servers.overview(ALICE) == []
    row = await harness.app.db.fetch_one("SELECT COUNT(*) AS n FROM pending_changes")
    assert row is not None and row["n"] == 0
    assert live_descendants() == []


# -- catalog ----------------------------------------------------------------------------------------------------


async def test_catalog_mode_refuses_a_command_that_is_not_in_the_catalog(tmp_path: Path) -> None:
    async with Harness.running(tmp_path, policy=catalog_policy()) as harness:
        alice = harness.user()

        answer = await refusal(alice, "envdump", ENV_DUMP)

        assert "Your admin allows only catalog commands here" in answer, answer
        assert server_path("tiny_server") in answer  # what is allowed instead
        await nothing_stored(harness)


async def test_catalog_mode_runs_a_catalog_command_in_the_sandbox(tmp_path: Path) -> None:
    async with Harness.running(tmp_path, policy=catalog_policy()) as harness:
        alice = harness.user()
        await alice.command(f"add-json tiny {json.dumps({**TINY, 'args': [*TINY['args'], '--tools', 'echo']})}")
        confirmation = await alice.reply()
        assert "Runs in a sandbox" in text_of(confirmation)
        await alice.click(confirmation, "change_confirm")
        assert "`tiny`: ready" in text_of(await alice.reply(lambda m: "*Done*" in text_of(m)))
        assert "hi" in await call(alice, "tiny", "echo", {"message": "hi"})


# -- off --------------------------------------------------------------------------------------------------------


async def test_off_mode_refuses_every_local_server_through_every_door(tmp_path: Path) -> None:
    async with Harness.running(tmp_path, policy=policy_toml(mode="off")) as harness:
        alice = harness.user()

        assert "Local servers are turned off by your Plugboard admin." in await refusal(alice, "tiny", TINY)
        view = await alice.open_modal("add")
        response = await alice.submit(
            view, {"name": "tiny", "command": PYTHON, "args": TINY["args"][0], "env": None, "cwd": None}
        )
        assert response.json()["errors"] == {"command": "Local servers are turned off by your Plugboard admin."}
        await nothing_stored(harness)


async def test_servers_added_before_local_servers_were_turned_off_do_not_start_and_say_why(tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        async with Harness.app_on(tmp_path / "data", slack) as before:
            await add_ready_server(before.user(), "tiny", TINY)

        async with Harness.app_on(tmp_path / "data", slack, policy=policy_toml(mode="off")) as after:
            await after.app.restore()
            [item] = await after.app.servers.overview(ALICE)
            assert not after.app.sessions.is_live(item.record.id)
            assert item.status.state == "error" and "turned off by your Plugboard admin" in item.status.label()
            assert live_descendants() == []

            alice = after.user()
            await alice.command("reload tiny")
            report = text_of(await alice.reply(lambda m: "Reloaded" in text_of(m)))
            assert "turned off by your Plugboard admin" in report, report
            assert live_descendants() == []
        assert slack.problems == []


# -- trusted ----------------------------------------------------------------------------------------------------


async def test_trusted_mode_warns_the_admin_at_start_and_the_owner_at_consent_and_runs_unsandboxed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="app.wiring")
    async with Harness.running(tmp_path, policy=policy_toml(mode="trusted")) as harness:
        assert any("WITHOUT a sandbox" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
        alice = harness.user()
        await alice.command(f"add-json envdump {json.dumps(ENV_DUMP)}")
        confirmation = text_of(await alice.reply())
        assert "*No sandbox*" in confirmation and "Runs in a sandbox" not in confirmation, confirmation

        await add_ready_server(harness.user("U0BOB"), "envdump", ENV_DUMP)
        whoami = json.loads(result_text(await call(harness.user("U0BOB"), "envdump", "whoami")))
        assert whoami["home"].startswith(str(tmp_path))  # the host path of its folder, not /home/plugboard
        assert str(whoami["pid"]) in os.listdir("/proc")  # a host pid: no PID namespace
        env = json.loads(result_text(await call(harness.user("U0BOB"), "envdump", "dump_env")))
        assert "SLACK_SIGNING_SECRET" not in env  # trusted still clears the environment


# -- a sandbox that does not work -------------------------------------------------------------------------------


def path_with(tmp_path: Path, programs: dict[str, str | None]) -> str:
    """A PATH holding only `programs`: a script body, or None for a link to the real program."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, script in programs.items():
        target = folder / name
        if script is None:
            real = next(Path(p) / name for p in os.environ["PATH"].split(":") if (Path(p) / name).exists())
            target.symlink_to(real)
        else:
            target.write_text(script)
            target.chmod(0o755)
    return str(folder)


BROKEN_BWRAP = "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n"


@pytest.mark.parametrize("mode", ["sandboxed", "catalog"])
@pytest.mark.parametrize(
    ("programs", "why"),
    [
        pytest.param(
            {"prlimit": None, "setpriv": None}, "bwrap is not installed on the Plugboard host", id="bwrap-missing"
        ),
        pytest.param(
            {"prlimit": None, "setpriv": None, "bwrap": BROKEN_BWRAP},
            "the sandbox does not work here (bwrap: setting up uid map: Permission denied)",
            id="bwrap-fails",
        ),
    ],
)
async def test_a_broken_sandbox_refuses_local_servers_with_the_reason_and_a_hint_for_the_admin(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    programs: dict[str, str | None],
    why: str,
) -> None:
    monkeypatch.setenv("PATH", path_with(tmp_path, programs))
    policy = catalog_policy() if mode == "catalog" else policy_toml(mode=mode)
    async with Harness.running(tmp_path / "data", policy=policy) as harness:
        assert any(why in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records), caplog.text
        alice = harness.user()

        answer = await refusal(alice, "tiny", TINY)

        assert "Local servers cannot run safely on this Plugboard host" in answer, answer
        assert why in answer and ADMIN_HINT in answer, answer
        await nothing_stored(harness)


async def test_a_broken_sandbox_does_not_matter_in_trusted_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", path_with(tmp_path, {"bwrap": BROKEN_BWRAP}))
    async with Harness.running(tmp_path / "data", policy=policy_toml(mode="trusted")) as harness:
        await add_ready_server(harness.user(), "tiny", TINY)


# -- the policy file --------------------------------------------------------------------------------------------


async def test_a_bad_policy_file_stops_the_app_at_start_naming_the_file_and_the_setting(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[local_servers]\nmode = "yolo"\n')
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO_ROOT),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "secret",
        "PLUGBOARD_POLICY_FILE": str(policy),
        "PLUGBOARD_DATA_DIR": str(tmp_path / "data"),
    }
    with anyio.fail_after(30):
        result = await anyio.run_process([sys.executable, "-m", "app"], env=env, cwd=tmp_path, check=False)

    assert result.returncode == 2
    error = result.stderr.decode()
    assert f"policy file {policy} has invalid settings" in error and "local_servers.mode" in error, error
    assert "Traceback" not in error
