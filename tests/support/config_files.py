"""Helpers for the config-file tests: upload a file like a person does, decide on the review, look at processes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.domain.owner import Owner
from app.slack import ids
from tests.servers import PYTHON, server_path
from tests.support import slack_payloads as payloads
from tests.support.harness import Harness, SlackUser, text_of
from tests.support.processes import descendants

OWNER = Owner(team_id=payloads.TEAM_ID, user_id=payloads.USER_ID)
SETTLE = 30.0


def tiny(name: str, tools: str = "echo", env: dict[str, str] | None = None) -> dict[str, Any]:
    """A Claude-Desktop-style entry for tests/servers/tiny_server.py; `--name` makes its process findable."""
    entry: dict[str, Any] = {"command": PYTHON, "args": [server_path("tiny_server"), "--tools", tools, "--name", name]}
    if env:
        entry["env"] = env
    return entry


def env_dump(env: dict[str, str] | None = None) -> dict[str, Any]:
    return {"command": PYTHON, "args": [server_path("env_dump_server")], "env": env or {}}


def as_bytes(document: dict[str, Any] | str | bytes) -> bytes:
    if isinstance(document, bytes):
        return document
    return (document if isinstance(document, str) else json.dumps(document, indent=2)).encode()


async def submit_upload(user: SlackUser, filename: str, document: dict[str, Any] | str | bytes) -> Any:
    """`/mcp upload`, pick the file, press Review; returns the view_submission HTTP response."""
    file = user.slack.add_file(filename, as_bytes(document), user_id=user.user_id)
    view = await user.open_modal("upload")
    assert view["callback_id"] == ids.UPLOAD_MODAL
    body = payloads.view_submission(
        view,
        {ids.UPLOAD_FILE: {ids.VALUE: payloads.files_value([file])}},
        user_id=user.user_id,
        team_id=user.team_id,
        trigger_id=user.slack.issue_trigger_id(user.user_id),
    )
    response = await user.harness.post(body)
    assert response.status_code == 200, response.text
    return response


async def upload(user: SlackUser, filename: str, document: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """Upload a file and return the message the app answers with (a review or the reason it refused)."""
    response = await submit_upload(user, filename, document)
    assert response.text == "", f"the modal did not close: {response.text}"
    return await user.reply()


def button_value(message: dict[str, Any], action_id: str, prefix: str = "") -> str:
    for block in message.get("blocks") or []:
        for element in [*(block.get("elements") or []), *([block["accessory"]] if block.get("accessory") else [])]:
            if element.get("action_id") == action_id and str(element.get("value", "")).startswith(prefix):
                return str(element["value"])
    raise AssertionError(f"no {action_id} button ({prefix}) in: {text_of(message)}")


def has_button(message: dict[str, Any], action_id: str, prefix: str = "") -> bool:
    try:
        button_value(message, action_id, prefix)
    except AssertionError:
        return False
    return True


async def decide(user: SlackUser, review: dict[str, Any], mode: str = "merge") -> str:
    """Click Confirm (merge / replace) and return the final report's text."""
    action = ids.REPLACE_BATCH if mode == "replace" else ids.CONFIRM_BATCH
    await user.click(review, action, value=button_value(review, action, f"{mode}:"))
    return text_of(await user.reply(lambda m: "*Done*" in text_of(m) or ":x:" in text_of(m), timeout=SETTLE + 5))


async def servers_table(harness: Harness) -> list[dict[str, Any]]:
    """Every stored server row, exactly (ciphertexts and versions included)."""
    rows = await harness.app.db.fetch_all("SELECT * FROM servers ORDER BY name")
    return [dict(row) for row in rows]


def everything_sent_and_written(harness: Harness) -> str:
    """All the app said to Slack, every file it uploaded, and every mirror file on disk."""
    parts = [json.dumps(call.params) for call in harness.slack.calls]
    parts += [f.text for f in harness.slack.uploaded_files]
    parts += [p.read_text() for p in (harness.data_dir / "users").rglob("*.json")]
    return "\n".join(parts)


def dms(
    harness: Harness, predicate: Callable[[str], bool] = lambda text: True, *, after: int = 0
) -> list[dict[str, Any]]:
    """chat.postMessage calls to the owner (DMs), as messages, whose text matches."""
    return [
        {"text": c.params.get("text", ""), "blocks": c.params.get("blocks") or []}
        for c in harness.slack.calls[after:]
        if c.method == "chat.postMessage"
        and c.params.get("channel") == OWNER.user_id
        and predicate(text_of({"text": c.params.get("text", ""), "blocks": c.params.get("blocks") or []}))
    ]


# -- processes ---------------------------------------------------------------------------------------------


def _descendants() -> dict[int, list[str]]:
    return descendants(include_zombies=False)


def pids_of(name: str) -> set[int]:
    """Live processes (and their sandbox wrappers) of the tiny server started with `--name name`."""
    return {pid for pid, argv in _descendants().items() if "--name" in argv and name in argv}


@pytest.fixture
def no_child_left() -> Iterator[None]:
    """Set up before (so torn down after) the harness: closing the app must leave no child process behind."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux /proc to check that servers are reaped")
    assert _descendants() == {}, "a previous test leaked a child process"
    yield
    assert _descendants() == {}, "a server process outlived the app"
