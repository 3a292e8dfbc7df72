"""The DMs sent outside a request (remote sign-in, errors, plain notices) are valid Block Kit built in blocks/."""

from __future__ import annotations

from typing import Any

from app.domain.owner import Owner
from app.domain.remote_config import RemoteServerConfig
from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from app.slack import ids
from app.slack.blocks.connector import connected_blocks, failed_blocks, reauth_blocks, sign_in_blocks
from app.slack.blocks.plain import error_blocks, text_blocks
from app.slack.requester import owner_from_body
from tests.support.blockkit import blocks_problems
from tests.support.harness import text_of

OWNER = Owner(team_id="T0TEST", user_id="U0ALICE")
RECORD = ServerRecord.approved_new(
    OWNER, "docs", RemoteServerConfig(url="https://mcp.example.com/mcp"), enabled=True, now=1.0, record_id="id-docs"
)


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_the_sign_in_dm_names_the_host_and_links_to_the_one_time_url() -> None:
    blocks = sign_in_blocks(RECORD, "https://plugboard.example/oauth/start/abc", "auth.example.com")
    assert blocks_problems(blocks) == []
    assert "`auth.example.com`" in text_of({"blocks": blocks})
    assert [(b["action_id"], b["url"]) for b in buttons(blocks)] == [
        (ids.SIGN_IN_LINK, "https://plugboard.example/oauth/start/abc")
    ]


def test_a_failed_or_expired_sign_in_offers_a_reconnect_button_carrying_only_the_server_id() -> None:
    for blocks, label in ((failed_blocks(RECORD, "denied <b>"), "Try again"), (reauth_blocks(RECORD), "Reconnect")):
        assert blocks_problems(blocks) == []
        assert [(b["action_id"], b["value"], b["text"]["text"]) for b in buttons(blocks)] == [
            (ids.RECONNECT, "id-docs", label)
        ]
    assert "denied &lt;b&gt;" in text_of({"blocks": failed_blocks(RECORD, "denied <b>")})


def test_a_connected_dm_lists_the_tools_or_says_why_the_server_is_not_ready() -> None:
    ready = connected_blocks(RECORD, ServerStatus("ready", tool_count=2), ["search", "fetch"])
    assert "Connected `docs` — 2 tools: `search`, `fetch`" in text_of({"blocks": ready})
    failed = connected_blocks(RECORD, ServerStatus("error", "refused"), [])
    assert "Signed in to `docs`, but it is error — refused." in text_of({"blocks": failed})
    assert blocks_problems(ready) == [] and blocks_problems(failed) == []


def test_error_and_text_blocks_escape_the_error_and_stay_within_a_section() -> None:
    assert error_blocks("bad <script>")[0]["text"]["text"] == ":x: bad &lt;script&gt;"
    long = text_blocks("x" * 5000)
    assert blocks_problems(long) == [] and len(long[0]["text"]["text"]) == 3000


def test_an_event_belongs_to_its_user_in_the_workspace_that_installed_the_app() -> None:
    body = {
        "type": "event_callback",
        "team_id": "T0OTHER",
        "authorizations": [{"team_id": "T0TEST", "enterprise_id": "E0ORG", "user_id": "U0BOT", "is_bot": True}],
        "event": {"type": "app_home_opened", "user": "U0ALICE", "tab": "home"},
    }
    assert owner_from_body(body) == Owner(team_id="T0TEST", user_id="U0ALICE", enterprise_id="E0ORG")
    del body["authorizations"]
    assert owner_from_body(body) == Owner(team_id="T0OTHER", user_id="U0ALICE")
