"""Hot reload: a committed change starts, stops or restarts only the servers it touched."""

from __future__ import annotations

from typing import Any

from app.domain.local_config import build_local_config
from app.domain.owner import Owner
from app.domain.server import ServerRecord, diff_servers

OWNER = Owner(team_id="T1", user_id="U1")


def record(
    server_id: str, *, name: str | None = None, enabled: bool = True, version: int = 1, **config: Any
) -> ServerRecord:
    fields: dict[str, Any] = {"command": "npx", "args": [server_id], "env": {}, "cwd": None}
    fields.update(config)
    built = build_local_config(**fields)
    return ServerRecord(
        id=server_id,
        owner=OWNER,
        name=name or server_id,
        config=built,
        enabled=enabled,
        approved_hash=built.approval_hash(),
        version=version,
        created_at=0.0,
        updated_at=0.0,
    )


def snapshot(*records: ServerRecord) -> dict[str, ServerRecord]:
    return {r.id: r for r in records}


def test_no_change_means_an_empty_diff() -> None:
    servers = snapshot(record("a"), record("b", enabled=False))
    diff = diff_servers(servers, dict(servers))
    assert diff.empty
    assert (diff.start, diff.stop, diff.restart) == ((), (), ())


def test_an_added_enabled_server_is_started_and_nothing_else_is_touched() -> None:
    a, b = record("a"), record("b")
    diff = diff_servers(snapshot(a), snapshot(a, b))
    assert diff.start == (b,)
    assert diff.stop == () and diff.restart == ()


def test_an_added_disabled_server_is_not_started() -> None:
    assert diff_servers({}, snapshot(record("a", enabled=False))).empty


def test_a_removed_server_is_stopped_only_if_it_was_enabled() -> None:
    a, b, off = record("a"), record("b"), record("off", enabled=False)
    diff = diff_servers(snapshot(a, b, off), snapshot(a))
    assert diff.stop == ("b",)
    assert diff.start == () and diff.restart == ()


def test_disabling_stops_and_enabling_starts() -> None:
    on, off = record("a"), record("a", enabled=False, version=2)
    assert diff_servers(snapshot(on), snapshot(off)).stop == ("a",)
    enabled_again = record("a", version=3)
    diff = diff_servers(snapshot(off), snapshot(enabled_again))
    assert diff.start == (enabled_again,)
    assert diff.stop == () and diff.restart == ()


def test_a_changed_config_restarts_only_that_server() -> None:
    a, b, c = record("a"), record("b"), record("c")
    b2 = record("b", env={"API_KEY": "new"}, version=2)
    diff = diff_servers(snapshot(a, b, c), snapshot(a, b2, c))
    assert diff.restart == (b2,)
    assert diff.start == () and diff.stop == ()


def test_each_kind_of_config_change_restarts() -> None:
    base = record("a")
    for changed in (
        record("a", command="uvx"),
        record("a", args=["other"]),
        record("a", env={"K": "v"}),
        record("a", cwd="sub"),
    ):
        assert diff_servers(snapshot(base), snapshot(changed)).restart == (changed,)


def test_a_rename_restarts_so_tool_names_follow() -> None:
    old, renamed = record("a", name="old"), record("a", name="new")
    assert diff_servers(snapshot(old), snapshot(renamed)).restart == (renamed,)


def test_a_version_bump_without_a_runtime_change_does_nothing() -> None:
    assert diff_servers(snapshot(record("a")), snapshot(record("a", version=7))).empty


def test_a_config_change_to_a_disabled_server_does_not_start_it() -> None:
    before = record("a", enabled=False)
    after = record("a", enabled=False, args=["changed"])
    assert diff_servers(snapshot(before), snapshot(after)).empty


def test_a_mixed_change_sorts_every_server_into_the_right_bucket() -> None:
    keep, change, drop, off_to_on = record("keep"), record("change"), record("drop"), record("wake", enabled=False)
    changed, woken, new = record("change", args=["x"]), record("wake"), record("new")
    diff = diff_servers(snapshot(keep, change, drop, off_to_on), snapshot(keep, changed, woken, new))
    assert {r.id for r in diff.start} == {"wake", "new"}
    assert diff.stop == ("drop",)
    assert diff.restart == (changed,)
