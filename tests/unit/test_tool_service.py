"""ToolService on fakes of its store and session manager (and a real in-memory ToolRegistry): only allowed tools
are called, results are capped, and every call leaves an audit entry that does not leak secrets."""

from __future__ import annotations

import json
from typing import Any, cast

import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from app.domain.errors import InvalidConfig, ServerNotFound, ServerUnavailable
from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from app.domain.tool_policy import ToolState
from app.runtime.tool_registry import ToolRegistry
from app.services.tool_service import ToolService
from tests.unit.fakes import FakeSessions, FakeStore

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id="T0TEST", user_id="U0ALICE")
SERVER_SECRET = "s3cr3t-server-token-value"
CONFIG = LocalServerConfig(command="npx", args=("-y", "@scope/server@1.2.3"), env={"API_TOKEN": SERVER_SECRET})
RECORD = ServerRecord(
    id="srv1",
    owner=ALICE,
    name="notes",
    config=CONFIG,
    enabled=True,
    approved_hash=CONFIG.approval_hash(),
    version=1,
    created_at=0.0,
    updated_at=0.0,
)


def text_result(text: str, *, is_error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=is_error)


class World:
    def __init__(self, *, result_limit: int = 3000, agent_result_limit: int = 20000) -> None:
        self.store = FakeStore()
        self.store.servers[RECORD.id] = RECORD
        self.sessions = FakeSessions()
        self.sessions.statuses[RECORD.id] = ServerStatus("ready", tool_count=1)
        self.registry = ToolRegistry()
        self.registry.publish(ALICE, RECORD.id, RECORD.name, [types.Tool(name="echo", input_schema={})])
        fake: Any = self.store
        self.service = ToolService(
            fake,
            cast(Any, self.sessions),
            self.registry,
            fake,
            result_limit=result_limit,
            agent_result_limit=agent_result_limit,
        )

    def answer(self, result: types.CallToolResult | Exception) -> None:
        self.sessions.results["echo"] = result


async def test_an_allowed_tool_is_called_with_its_arguments_and_its_text_returned() -> None:
    world = World()
    world.answer(text_result("hello"))

    outcome = await world.service.call(ALICE, "notes", "echo", '{"message": "hi"}')

    assert (outcome.text, outcome.is_error, outcome.truncated_chars) == ("hello", False, 0)
    assert world.sessions.calls == [(RECORD.id, "echo", {"message": "hi"})]


@pytest.mark.parametrize("state", ["denied", "held"])
async def test_a_tool_that_is_not_allowed_is_refused_audited_and_never_called(state: ToolState) -> None:
    world = World()
    world.registry.set_state(ALICE, RECORD.id, "echo", state, "its owner said no", "pin1")
    world.answer(text_result("should not be seen"))

    with pytest.raises(ServerUnavailable) as caught:
        await world.service.call(ALICE, "notes", "echo", "{}")

    assert f"is {state}" in str(caught.value) and "/mcp allow notes__echo" in str(caught.value)
    assert world.sessions.calls == []
    assert world.store.audit == [
        {
            "owner": ALICE,
            "action": "tool_call_refused",
            "server_name": "notes",
            "detail": {"tool": "echo", "state": state},
        }
    ]


async def test_a_long_result_is_cut_to_the_slack_limit_and_says_how_much_was_cut() -> None:
    world = World(result_limit=10)
    world.answer(text_result("x" * 25))

    outcome = await world.service.call(ALICE, "notes", "echo", "")

    assert (outcome.text, outcome.truncated_chars) == ("x" * 10, 15)
    detail = world.store.audit[-1]["detail"]
    assert (detail["result_chars"], detail["truncated"]) == (25, True)


async def test_a_long_result_for_the_agent_gets_its_own_limit_and_the_cut_noted_in_the_text() -> None:
    world = World(result_limit=5, agent_result_limit=10)
    world.answer(text_result("y" * 25))

    outcome = await world.service.call(ALICE, "notes", "echo", "", for_agent=True)

    assert outcome.text == "y" * 10 + "\n…[truncated 15 characters]"


async def test_every_call_is_audited_with_a_preview_that_masks_secrets() -> None:
    world = World()
    world.answer(text_result("done"))
    arguments = {"query": f"look up {SERVER_SECRET}", "password": "hunter2", "page": 2}

    await world.service.call(ALICE, "notes", "echo", json.dumps(arguments))

    [entry] = world.store.audit
    assert (entry["action"], entry["server_name"]) == ("tool_call", "notes")
    detail = entry["detail"]
    assert (detail["tool"], detail["outcome"]) == ("echo", "ok")
    assert len(detail["args_sha256"]) == 64
    preview = json.loads(detail["args_preview"])
    assert preview["password"] == "***" and preview["page"] == 2
    assert SERVER_SECRET not in detail["args_preview"] and "hunter2" not in detail["args_preview"]
    assert "«redacted API_TOKEN»" in preview["query"]


async def test_a_server_error_is_reported_without_its_secrets_and_audited_as_failed() -> None:
    world = World()
    world.answer(MCPError(code=-32000, message=f"bad token {SERVER_SECRET}"))

    with pytest.raises(ServerUnavailable) as caught:
        await world.service.call(ALICE, "notes", "echo", "{}")

    assert SERVER_SECRET not in str(caught.value) and "notes__echo` failed" in str(caught.value)
    assert world.store.audit[-1]["detail"]["outcome"] == "failed"


async def test_a_tool_the_server_does_not_have_is_named_in_the_refusal() -> None:
    world = World()

    with pytest.raises(ServerUnavailable) as caught:
        await world.service.call(ALICE, "notes", "missing", "{}")

    assert "has no tool `missing`" in str(caught.value)
    assert world.sessions.calls == [] and world.store.audit == []


async def test_a_tool_of_a_server_that_is_not_ready_is_refused_with_the_servers_state() -> None:
    world = World()
    world.sessions.statuses[RECORD.id] = ServerStatus("starting")

    with pytest.raises(ServerUnavailable) as caught:
        await world.service.call(ALICE, "notes", "missing", "{}")

    assert "is starting…" in str(caught.value)


async def test_arguments_that_are_not_a_json_object_are_refused_before_any_call() -> None:
    world = World()

    with pytest.raises(InvalidConfig) as caught:
        await world.service.call(ALICE, "notes", "echo", "[1, 2]")

    assert list(caught.value.problems) == ["arguments"]
    assert world.sessions.calls == []


async def test_an_unknown_server_is_not_found() -> None:
    with pytest.raises(ServerNotFound):
        await World().service.call(ALICE, "nope", "echo", "{}")
