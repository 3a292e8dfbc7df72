"""A server a user adds through Slack runs with an environment built from nothing: none of the app's secrets,
a private HOME per owner+server under the data dir, the fixed PATH, and only the variables its owner set.

The app's own process environment is seeded with fake secrets *before* the app is built, so a leak would show.
Every test runs both sandboxed (bubblewrap, the default) and in the admin's "trusted" mode (no sandbox).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.domain.local_config import DEFAULT_CHILD_PATH
from app.domain.owner import Owner
from app.runtime.child_environment import admin_environment
from tests.servers import PYTHON, server_path
from tests.support import slack_payloads as payloads
from tests.support.harness import SIGNING_SECRET, Harness, SlackUser, policy_toml, text_of
from tests.support.processes import descendants as _descendants
from tests.support.processes import every_child_reaped  # noqa: F401  (autouse fixture)

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id=payloads.TEAM_ID, user_id=payloads.USER_ID)
BOB = Owner(team_id=payloads.TEAM_ID, user_id="U0BOBBY")
ENV_DUMP = server_path("env_dump_server")

# Fake secrets in the app's own process environment.
PROCESS_BOT_TOKEN = "xoxb-process-env-canary-5e1f"
PROCESS_SIGNING_SECRET = "process-env-signing-canary-77ab"
PROCESS_APP_TOKEN_LIKE = "process-env-client-secret-canary-90cd"
RAW_KEY = base64.b64encode(bytes(range(32))).decode()
ENCRYPTION_KEYS = f"k1:{RAW_KEY}"
OTHER_APP_SECRET = "sk-process-env-canary-4242"
LLM_API_KEY = "sk-llm-key-process-env-canary-6161"

SANDBOX_HOME = "/home/plugboard"
BASE_NAMES = {"PATH", "HOME", "LANG", "LOGNAME", "USER", "SHELL", "TERM", "TMPDIR"}
PYTHON_ADDED = {"LC_CTYPE"}  # PEP 538 locale coercion may export it inside the child itself
# bubblewrap exports the directory it changed into (checked to be HOME); the sandbox points the package managers
# at the owner's shared caches.
BWRAP_ADDED = {"PWD", "npm_config_cache", "UV_CACHE_DIR"}


@pytest.fixture(params=["sandboxed", "trusted"])
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    """The app built *after* its own environment holds secrets (the settings read some of them from there)."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", PROCESS_BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", PROCESS_SIGNING_SECRET)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", PROCESS_APP_TOKEN_LIKE)
    monkeypatch.setenv("PLUGBOARD_ENCRYPTION_KEYS", ENCRYPTION_KEYS)
    monkeypatch.setenv("PLUGBOARD_PUBLIC_URL", "https://plugboard.example")
    monkeypatch.setenv("OPENAI_API_KEY", OTHER_APP_SECRET)
    # The assistant's model, configured the way an admin does it (the key must reach no server).
    monkeypatch.setenv("PLUGBOARD_LLM_PROVIDER", "openai")
    monkeypatch.setenv("PLUGBOARD_LLM_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("PLUGBOARD_LLM_API_KEY", LLM_API_KEY)
    monkeypatch.setenv("PLUGBOARD_LLM_BASE_URL", "https://llm.example/v1")
    async with Harness.running(tmp_path / "data", policy=policy_toml(mode=request.param)) as running:
        keys = running.app.settings.plugboard_encryption_keys
        assert keys is not None and keys.get_secret_value() == ENCRYPTION_KEYS, "the app did not read its env"
        assert running.app.core.assistant is not None and running.app.core.assistant.configured
        yield running


# -- helpers ------------------------------------------------------------------------------------------------


def server_process(marker: str) -> int:
    """Host pid of the server process (not a sandbox wrapper) started with the argument `marker`."""
    pids = [
        pid
        for pid, argv in _descendants().items()
        if marker in argv and os.path.basename(argv[0]) not in {"bwrap", "prlimit", "sh"}
    ]
    assert len(pids) == 1, f"expected one server process with {marker!r}, found {pids}"
    return pids[0]


async def add_env_dump(user: SlackUser, name: str, marker: str, env: str = "MY_SETTING=visible") -> None:
    """Through the Add modal, like a new user would; `marker` is an extra (ignored) argument to find it in /proc."""
    view = await user.open_modal("add")
    await user.submit(view, {"name": name, "command": PYTHON, "args": f"{ENV_DUMP}\n{marker}", "env": env})
    confirmation = await user.reply(lambda m: "Review before running" in text_of(m))
    await user.click(confirmation, "change_confirm")
    done = text_of(await user.reply(lambda m: "*Done*" in text_of(m), timeout=30))
    assert f"`{name}`: ready" in done, done


async def call_json(user: SlackUser, server: str, tool: str) -> Any:
    await user.command(f"call {server} {tool}")
    message = await user.reply()
    pieces = [
        block["text"]["text"][3:-3]
        for block in message.get("blocks") or []
        if block.get("type") == "section" and block["text"]["text"].startswith("```")
    ]
    assert pieces, f"no tool result: {text_of(message)}"
    return json.loads("".join(pieces).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


async def home_folder(harness: Harness, owner: Owner, name: str) -> Path:
    record = (await harness.app.servers.get(owner, name)).record
    return harness.data_dir.resolve() / "users" / owner.id / "servers" / record.id / "home"


def sandboxed(harness: Harness) -> bool:
    return harness.app.policy.local_servers.mode == "sandboxed"


def app_secrets(harness: Harness) -> dict[str, str]:
    secrets = {
        "Slack bot token (settings)": harness.slack.bot_token,
        "Slack signing secret (settings)": SIGNING_SECRET,
        "SLACK_BOT_TOKEN (process env)": PROCESS_BOT_TOKEN,
        "SLACK_SIGNING_SECRET (process env)": PROCESS_SIGNING_SECRET,
        "SLACK_CLIENT_SECRET (process env)": PROCESS_APP_TOKEN_LIKE,
        "PLUGBOARD_ENCRYPTION_KEYS": ENCRYPTION_KEYS,
        "the encryption key itself": RAW_KEY,
        "OPENAI_API_KEY (process env)": OTHER_APP_SECRET,
        "PLUGBOARD_LLM_API_KEY (process env)": LLM_API_KEY,
    }
    key_file = harness.data_dir / "encryption.key"
    if key_file.exists():
        secrets["encryption.key file"] = key_file.read_text().strip()
    return secrets


# -- tests --------------------------------------------------------------------------------------------------


async def test_a_server_sees_none_of_the_apps_secrets_only_the_fixed_base_and_its_own_variables(
    harness: Harness,
) -> None:
    assert os.environ["SLACK_BOT_TOKEN"] == PROCESS_BOT_TOKEN  # the app really had secrets to leak
    alice = harness.user()
    await add_env_dump(alice, "envdump", "--marker=alice-envdump")

    env: dict[str, str] = await call_json(alice, "envdump", "dump_env")
    dumped = json.dumps(env)
    for what, secret in app_secrets(harness).items():
        assert secret not in dumped, f"{what} reached the server's environment"
    leaked_names = sorted(n for n in env if n.startswith(("PLUGBOARD_", "SLACK_")) or n == "OPENAI_API_KEY")
    assert leaked_names == [], f"app variables reached the server: {leaked_names}"
    added_by_sandbox = BWRAP_ADDED if sandboxed(harness) else set()
    # The host's certificate and proxy settings are the admin's, passed on as they are.
    admin = admin_environment(os.environ)
    assert {name: env[name] for name in admin} == admin
    assert set(env) - PYTHON_ADDED - added_by_sandbox - set(admin) == BASE_NAMES | {"MY_SETTING"}, sorted(env)
    if "PWD" in env:
        assert env["PWD"] == env["HOME"]
    assert env["MY_SETTING"] == "visible"
    assert env["PATH"] == DEFAULT_CHILD_PATH


async def test_each_server_gets_its_own_home_folder_under_its_owners_folder_in_the_data_dir(
    harness: Harness,
) -> None:
    alice, bob = harness.user(), harness.user(user_id=BOB.user_id)
    await add_env_dump(alice, "one", "--marker=alice-one")
    await add_env_dump(alice, "two", "--marker=alice-two")
    await add_env_dump(bob, "one", "--marker=bob-one")

    folders: dict[str, Path] = {}
    for user, owner, name in ((alice, ALICE, "one"), (alice, ALICE, "two"), (bob, BOB, "one")):
        marker = f"--marker={'alice' if owner == ALICE else 'bob'}-{name}"
        folder = await home_folder(harness, owner, name)
        assert folder.is_dir(), folder
        assert folder.is_relative_to(harness.data_dir.resolve() / "users" / owner.id / "servers"), folder
        env: dict[str, str] = await call_json(user, name, "dump_env")
        me: dict[str, Any] = await call_json(user, name, "whoami")
        assert me["cwd"] == me["home"] == env["HOME"], me
        if sandboxed(harness):
            # Inside the sandbox HOME is a fixed path; the host folder bind-mounted there is the private one.
            assert env["HOME"] == SANDBOX_HOME
            pid = server_process(marker)
            assert os.path.samestat(os.stat(f"/proc/{pid}/cwd"), os.stat(folder)), f"{marker} runs elsewhere"
        else:
            assert env["HOME"] == str(folder)
        folders[marker] = folder
    assert len(set(folders.values())) == 3, folders


async def test_the_values_of_a_servers_variables_appear_in_no_process_command_line(harness: Harness) -> None:
    """Any local user can read /proc/*/cmdline (`ps`): a value passed as an argument is a value published."""
    alice = harness.user()
    await add_env_dump(alice, "envdump", "--marker=cmdline", env="MY_SETTING=visible\nAPI_TOKEN=argv-canary-61c2")
    env: dict[str, str] = await call_json(alice, "envdump", "dump_env")
    assert env["API_TOKEN"] == "argv-canary-61c2"

    exposed = {pid: argv for pid, argv in _descendants().items() if any("argv-canary-61c2" in a for a in argv)}
    assert exposed == {}, f"the secret is readable in the command line of {sorted(exposed)}: {exposed}"
