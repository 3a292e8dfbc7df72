"""The App Home dashboard stays valid Block Kit however much there is to show."""

from __future__ import annotations

import mcp_types as types

from app.domain.audit import AuditEntry
from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.domain.registered_tool import RegisteredTool
from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from app.services.server_service import ServerOverview
from app.slack.blocks.home import HomeContent, help_modal, home_view
from tests.support.blockkit import view_problems
from tests.support.harness import text_of

OWNER = Owner(team_id="T0TEST", user_id="U0TEST")


def overview(n: int) -> ServerOverview:
    config = LocalServerConfig(command="npx", args=("-y", f"server-{n}@1.0.0", "--root", "/srv/" + "x" * 400))
    record = ServerRecord(
        id=f"id{n}",
        owner=OWNER,
        name=f"server-{n}",
        config=config,
        enabled=True,
        approved_hash=config.approval_hash(),
        version=1,
        created_at=0,
        updated_at=0,
    )
    return ServerOverview(record, ServerStatus("error", "why " * 600), [])


def tool(n: int, state: str) -> RegisteredTool:
    name = f"tool_{n}"
    return RegisteredTool(
        exposed_name=f"server-0__{name}",
        server_id="id0",
        server_name="server-0",
        tool=types.Tool(name=name, input_schema={"type": "object"}),
        description="d",
        state=state,  # type: ignore[arg-type]
        reason="denylist: " + "r" * 400,
    )


def entry(n: int) -> AuditEntry:
    return AuditEntry(1_800_000_000 + n, OWNER.id, OWNER.id, "tool_call", "server-0", {"tool": f"t{n}", "ok": "x"})


def test_a_crowded_home_tab_stays_within_slacks_limits_and_says_what_it_left_out() -> None:
    content = HomeContent(
        servers=[overview(n) for n in range(45)],
        attention=[tool(n, "denied") for n in range(25)] + [tool(99, "held")],
        audit=[entry(n) for n in range(5)],
    )
    view = home_view(content)

    assert view_problems(view) == []
    shown = text_of(view)
    assert "…and 5 more" in shown  # servers beyond the 40 rows
    assert "…and 11 more: see `/mcp tools`" in shown  # 26 tools that need the owner, 15 listed
    attention = next(b for b in view["blocks"] if "_held_" in text_of({"blocks": [b]}))
    assert text_of({"blocks": [attention]}).index("_held_") < text_of({"blocks": [attention]}).index("_denied_")


def test_the_help_modal_is_a_valid_modal() -> None:
    assert view_problems(help_modal()) == []
