"""Config files in every accepted shape become a plan of adds, changes and removals; hostile files are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.domain.config_batch import plan_import, with_inputs
from app.domain.config_document import MAX_FILE_BYTES, decode_config_file, parse_config_document
from app.domain.errors import InvalidConfig
from app.domain.local_config import LocalServerConfig, build_local_config
from app.domain.owner import Owner
from app.domain.placeholders import unresolved_problem
from app.domain.remote_config import ApiKeyAuth, RemoteServerConfig
from app.domain.server import ServerRecord
from app.store.config_mirror import document_text, local_document, remote_document

OWNER = Owner(team_id="T0TEST", user_id="U0TEST")
TIME = {"command": "uvx", "args": ["mcp-server-time==2026.10.19"]}


def record(name: str, config: LocalServerConfig | RemoteServerConfig, *, enabled: bool = True) -> ServerRecord:
    return ServerRecord(
        id=f"id-{name}",
        owner=OWNER,
        name=name,
        config=config,
        enabled=enabled,
        approved_hash=config.approval_hash(),
        version=3,
        created_at=1.0,
        updated_at=1.0,
    )


def local(command: str = "uvx", *args: str, env: dict[str, str] | None = None, **extra: Any) -> LocalServerConfig:
    return build_local_config(
        command=command, args=list(args), env=env or {}, cwd=extra.get("cwd"), offline=extra.get("offline", False)
    )


def refusal(document: Any) -> str:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(InvalidConfig) as caught:
        parse_config_document(text)
    return " ".join(caught.value.problems.values())


# -- shapes ------------------------------------------------------------------------------------------------


def test_claude_desktop_config_gives_local_entries_and_skips_app_settings() -> None:
    document = parse_config_document(
        json.dumps(
            {
                "globalShortcut": "Ctrl+Space",
                "mcpServers": {
                    "time": TIME,
                    "gh": {
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-github@1.0.0"],
                        "env": {"GITHUB_TOKEN": "ghp_literal"},
                    },
                },
            }
        )
    )
    assert [e.name for e in document.local] == ["time", "gh"]
    assert document.local[1].config.env == {"GITHUB_TOKEN": "ghp_literal"}
    assert document.remote == () and document.inputs == ()


def test_vscode_mcp_json_keeps_inputs_and_turns_http_servers_into_remote_entries() -> None:
    document = parse_config_document(
        json.dumps(
            {
                "inputs": [{"type": "promptString", "id": "gh-token", "description": "GitHub PAT", "password": True}],
                "servers": {
                    "gh": {
                        "type": "stdio",
                        "command": "npx",
                        "args": ["-y", "server-github@1.0.0"],
                        "env": {"GITHUB_TOKEN": "${input:gh-token}"},
                    },
                    "docs": {
                        "type": "http",
                        "url": "https://mcp.example.com/mcp",
                        "headers": {"X-Key": "hunter2-secret"},
                    },
                },
            }
        )
    )
    assert document.kind == "VS Code config"
    assert document.inputs[0].id == "gh-token" and document.inputs[0].password
    remote = document.remote[0]
    assert (remote.name, remote.url, remote.transport, remote.header_names) == (
        "docs",
        "https://mcp.example.com/mcp",
        "http",
        ("X-Key",),
    )
    assert "hunter2-secret" not in repr(document)


def test_claude_code_mcp_json_with_sse_and_query_keys_keeps_no_secret_of_the_url() -> None:
    document = parse_config_document(
        json.dumps(
            {
                "mcpServers": {
                    "time": {"type": "stdio", **TIME, "env": {}},
                    "events": {"type": "sse", "url": "https://user:pw@Events.Example.com:8443/sse?api_key=k3y#frag"},
                }
            }
        )
    )
    remote = document.remote[0]
    assert remote.transport == "sse" and remote.url == "https://events.example.com:8443/sse" and remote.url_trimmed
    assert "k3y" not in repr(document) and "pw" not in remote.url


def test_our_own_download_reads_back_disabled_offline_and_cwd() -> None:
    records = [record("a", local("uvx", "x==1", env={"K": "v"}, cwd="work", offline=True), enabled=False)]
    document = parse_config_document(document_text(local_document(records)))
    entry = document.local[0]
    assert entry.disabled and entry.config.offline and entry.config.cwd == "work"
    assert entry.config.env == {"K": "${secret:K}"}


# -- hostile files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not json at all", "Not valid JSON"),
        ('{"mcpServers": {"a": {"command": "x", "command": "y"}}}', "appears twice"),
        ('{"mcpServers": {"a": {"command": "x", "args": [NaN]}}}', "not allowed"),
        ('{"mcpServers": ' + "[" * 100 + "]" * 100 + "}", "nested more than"),
        ("", "empty"),
        ("[]", "JSON object"),
        ('{"time": {"command": "uvx"}}', "Expected exactly one of"),
        ('{"mcpServers": {}, "servers": {}}', "Expected exactly one of"),
        ('{"mcpServers": {}, "apiKey": "sk-live-123"}', "Unknown top-level field `apiKey`"),
        ('{"mcpServers": {"a": {"command": "x", "shell": true}}}', "unknown field `shell`"),
        ('{"mcpServers": {"a": {"command": "x", "envFile": "/home/me/.env"}}}', "envFile"),
        ('{"mcpServers": {"a": {"url": "https://x.example", "cookie": "c"}}}', "unknown field `cookie`"),
        ('{"mcpServers": {"a": {"url": "file:///etc/passwd"}}}', "https://"),
        ('{"mcpServers": {"A B": {"command": "x"}}}', "Server name"),
        ('{"mcpServers": {"a": {"command": "x", "env": {"LD_PRELOAD": "/tmp/x.so"}}}}', "LD_PRELOAD"),
        ('{"servers": {}, "inputs": [{"id": "a"}, {"id": "a"}]}', "appears twice"),
        ('{"servers": {}, "inputs": [{"id": "a", "secret": true}]}', "unknown field `secret`"),
        ('{"mcpServers": {"a": {"command": "x", "args": [' + "9" * 100_000 + "]}}}", "number that is too long"),
        ('{"mcpServers": {"a": {"command": "x", "args": ["a\\u0000b"]}}}', "NUL byte"),
        ('{"mcpServers": {"a": {"command": "x", "args": ' + json.dumps(["a"] * 65) + "}}}", "At most 64 arguments"),
        ('{"mcpServers": {"a": {"command": "x", "cwd": "../../.."}}}', "`..`"),
        ('{"mcpServers": {"git\\u200bhub": {"command": "x"}}}', "Server name"),
        ('{"mcpServers": {"a": {"command": "' + "x" * 300 + '"}}}', "longer than 256 bytes"),
    ],
    ids=[
        "not-json",
        "duplicate-key",
        "nan",
        "deep",
        "empty",
        "array",
        "bare-map",
        "two-wrappers",
        "top-level-unknown",
        "entry-unknown",
        "envfile",
        "remote-unknown",
        "file-url",
        "bad-name",
        "dangerous-env",
        "dup-input",
        "input-unknown",
        "huge-int",
        "nul-in-arg",
        "too-many-args",
        "cwd-escape",
        "zero-width-name",
        "long-command",
    ],
)
def test_hostile_or_unknown_content_is_refused_with_a_specific_reason(text: str, expected: str) -> None:
    assert expected in refusal(text)


def test_a_50_mb_file_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidConfig) as caught:
        decode_config_file(b" " * (50 * 1024 * 1024))
    assert f"larger than {MAX_FILE_BYTES // 1024} KB" in str(caught.value)


def test_bytes_that_are_not_utf8_are_refused() -> None:
    with pytest.raises(InvalidConfig, match="UTF-8"):
        decode_config_file(b'{"mcpServers": {"\xff": {}}}')


@pytest.mark.parametrize(
    "entry",
    [
        {"command": "uvx", "args": ["--token", "${input:tok}"]},
        {"command": "uvx", "args": ["--key=${secret:API_KEY}"]},
        {"command": "${input:cmd}"},
        {"command": "uvx", "cwd": "${secret:DIR}"},
    ],
    ids=["input-in-args", "secret-in-args", "input-as-command", "secret-as-cwd"],
)
def test_placeholders_anywhere_but_env_are_refused_because_that_text_is_shown_and_saved(entry: dict) -> None:
    assert "placeholder" in refusal({"mcpServers": {"a": entry}})


def test_header_values_and_url_keys_never_appear_in_an_error() -> None:
    message = refusal({"mcpServers": {"r": {"url": "https://x.example/?key=s3cret", "headers": {"A": 5}}}})
    assert "s3cret" not in message and "headers" in message


# -- plans -------------------------------------------------------------------------------------------------


def test_merge_adds_and_changes_and_replace_also_removes_what_the_file_leaves_out() -> None:
    current = [record("keep", local("uvx", "keep==1")), record("change", local("uvx", "old==1"))]
    document = parse_config_document(
        json.dumps({"mcpServers": {"change": {"command": "uvx", "args": ["new==2"]}, "new": TIME}})
    )
    plan = plan_import(document, current)
    assert [(i.kind, i.name) for i in plan.changes(replace=False)] == [("edit", "change"), ("add", "new")]
    assert [(i.kind, i.name) for i in plan.changes(replace=True)][-1] == ("remove", "keep")
    assert plan.items[0].base_version == 3


def test_a_secret_placeholder_keeps_the_stored_value_so_a_round_trip_changes_nothing() -> None:
    current = [
        record("a", local("uvx", "a==1", env={"TOKEN": "tok-value"}, cwd="w", offline=True)),
        record("b", local("uvx", "b==1"), enabled=False),
        record("r", RemoteServerConfig(url="https://r.example/mcp", auth=ApiKeyAuth(value="Bearer k"))),
    ]
    for text in (document_text(local_document(current)), document_text(remote_document(current))):
        plan = plan_import(parse_config_document(text), current)
        assert plan.nothing_to_change(replace=False), plan
        assert "tok-value" not in text and "Bearer k" not in text
    remote_plan = plan_import(parse_config_document(document_text(remote_document(current))), current)
    assert [o.state for o in remote_plan.remote] == ["unchanged"]


def test_a_placeholder_for_a_secret_that_does_not_exist_asks_to_fill_it_in() -> None:
    current = [record("a", local("uvx", "a==1", env={"TOKEN": "v"}))]
    for entry in ({"command": "uvx", "args": ["a==1"], "env": {"OTHER": "${secret:MISSING}"}},):
        with pytest.raises(InvalidConfig, match="fill in MISSING"):
            plan_import(parse_config_document(json.dumps({"mcpServers": {"a": entry}})), current)
    with pytest.raises(InvalidConfig, match="fill in TOKEN"):  # a new server has no stored secrets at all
        plan_import(
            parse_config_document(
                json.dumps({"mcpServers": {"n": {"command": "uvx", "env": {"TOKEN": "${secret:TOKEN}"}}}})
            ),
            current,
        )


def test_a_placeholder_inside_a_longer_value_is_refused() -> None:
    document = parse_config_document(
        json.dumps({"mcpServers": {"a": {"command": "uvx", "env": {"AUTH": "Bearer ${secret:TOKEN}"}}}})
    )
    with pytest.raises(InvalidConfig, match="whole value"):
        plan_import(document, [record("a", local("uvx", env={"TOKEN": "v"}))])


def test_disabled_in_the_file_disables_and_missing_disabled_enables() -> None:
    current = [record("on", local("uvx", "on==1")), record("off", local("uvx", "off==1"), enabled=False)]
    document = parse_config_document(
        json.dumps(
            {
                "mcpServers": {
                    "on": {"command": "uvx", "args": ["on==1"], "disabled": True},
                    "off": {"command": "uvx", "args": ["off==1"]},
                }
            }
        )
    )
    plan = plan_import(document, current)
    assert [(i.name, i.enabled, i.config_changed) for i in plan.items] == [("on", False, False), ("off", True, False)]


def test_vscode_inputs_must_be_declared_and_filled_before_the_plan_can_run() -> None:
    undeclared = parse_config_document(json.dumps({"servers": {"gh": {"command": "npx", "env": {"T": "${input:x}"}}}}))
    with pytest.raises(InvalidConfig, match="not in `inputs`"):
        plan_import(undeclared, [])
    document = parse_config_document(
        json.dumps(
            {
                "inputs": [{"id": "x", "description": "Token", "password": True}, {"id": "unused"}],
                "servers": {"gh": {"command": "npx", "env": {"T": "${input:x}", "U": "pre-${input:x}"}}},
            }
        )
    )
    plan = plan_import(document, [])
    assert [i.id for i in plan.inputs] == ["x"]
    assert unresolved_problem(plan.items[0].config) is not None  # type: ignore[arg-type]
    with pytest.raises(InvalidConfig, match="fill in x"):
        with_inputs(plan, {}, [])
    filled = with_inputs(plan, {"x": "tok"}, [])
    assert filled.inputs == () and filled.items[0].config.env == {"T": "tok", "U": "pre-tok"}  # type: ignore[union-attr]


def test_filled_inputs_that_match_the_stored_config_change_nothing() -> None:
    current = [record("gh", local("npx", env={"T": "tok"}))]
    document = parse_config_document(
        json.dumps({"inputs": [{"id": "x"}], "servers": {"gh": {"command": "npx", "env": {"T": "${input:x}"}}}})
    )
    plan = with_inputs(plan_import(document, current), {"x": "tok"}, current)
    assert plan.items == () and plan.unchanged == ("gh",)


def test_a_local_entry_cannot_take_the_name_of_a_remote_server() -> None:
    current = [record("r", RemoteServerConfig(url="https://r.example/mcp"))]
    with pytest.raises(InvalidConfig, match="remote server"):
        plan_import(parse_config_document(json.dumps({"mcpServers": {"r": TIME}})), current)


def test_remote_entries_are_offers_never_items_and_replace_leaves_remote_servers_alone() -> None:
    current = [
        record("r", RemoteServerConfig(url="https://r.example/mcp")),
        record("loc", local("uvx", "x==1")),
    ]
    document = parse_config_document(
        json.dumps(
            {
                "mcpServers": {
                    "r": {"type": "http", "url": "https://moved.example/mcp"},
                    "loc2": {"type": "sse", "url": "https://l.example/sse"},
                    "loc": {"url": "https://taken.example/mcp"},
                    "new": TIME,
                }
            }
        )
    )
    plan = plan_import(document, current)
    assert [i.name for i in plan.items] == ["new"]
    assert {o.name: o.state for o in plan.remote} == {"r": "changed", "loc2": "new", "loc": "name_taken"}
    assert [r.name for r in plan.removals] == ["loc"]


def test_a_file_of_remote_servers_only_never_removes_local_servers() -> None:
    current = [record("loc", local("uvx", "x==1"))]
    only_remote = parse_config_document(json.dumps({"mcpServers": {"r": {"url": "https://r.example/mcp"}}}))
    assert plan_import(only_remote, current).removals == ()
    empty = parse_config_document(json.dumps({"mcpServers": {}}))
    assert [r.name for r in plan_import(empty, current).removals] == ["loc"]
