"""A new user adds a local server through /mcp add, confirms it, and uses its tools without a restart."""

from __future__ import annotations

import json

import pytest

from app.domain.owner import Owner
from tests.servers import PYTHON, server_path
from tests.support.harness import Harness, text_of

pytestmark = pytest.mark.anyio


async def test_server_added_through_the_modal_is_ready_with_tools_after_confirm(harness: Harness) -> None:
    alice = harness.user()
    view = await alice.open_modal("add")
    assert view["callback_id"] == "server_add"

    response = await alice.submit(
        view,
        {
            "name": "tiny",
            "command": PYTHON,
            "args": f"{server_path('tiny_server')}\n--tools\necho,add",
            "env": "API_TOKEN=s3cret-value",
            "cwd": None,
        },
    )
    assert response.text == ""  # modal closes

    confirmation = await alice.reply()
    shown = text_of(confirmation)
    assert server_path("tiny_server") in shown and "--tools echo,add" in shown
    assert "s3cret-value" not in json.dumps(confirmation)
    assert "runs a program on the Plugboard host" in shown
    assert "Runs in a sandbox" in shown
    assert harness.app.sessions.is_live("x") is False
    assert not harness.app.tools.tools(Owner(team_id="T0TEST", user_id="U0TEST"))

    await alice.click(confirmation, "change_confirm")
    starting = await alice.reply()
    assert "starting" in text_of(starting)
    done = await alice.reply(lambda m: "ready" in text_of(m) or "error" in text_of(m), after=0)
    assert "ready — 2 tools" in text_of(done), text_of(done)

    await alice.command('call tiny add {"a": 2, "b": 40}')
    result = await alice.reply()
    assert "42" in text_of(result)
