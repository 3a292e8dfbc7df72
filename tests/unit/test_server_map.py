"""Pasted JSON in every common shape becomes named local configs, and everything else is refused clearly."""

from __future__ import annotations

import json

import pytest

from app.domain.errors import InvalidConfig
from app.domain.server_map import MAX_SERVERS_PER_IMPORT, parse_server_map

TIME = {"command": "uvx", "args": ["mcp-server-time"]}


def refusal(text: str) -> str:
    with pytest.raises(InvalidConfig) as caught:
        parse_server_map(text)
    assert set(caught.value.problems) == {"json"}
    return caught.value.problems["json"]


@pytest.mark.parametrize(
    "document",
    [
        {"mcpServers": {"time": TIME}},
        {"servers": {"time": {"type": "stdio", **TIME}}},
        {"servers": {"time": TIME}, "inputs": []},
        {"time": TIME},
    ],
    ids=["claude-mcpServers", "vscode-servers", "vscode-empty-inputs", "bare-map"],
)
def test_every_common_shape_gives_the_same_named_config(document: dict[str, object]) -> None:
    configs = parse_server_map(json.dumps(document))
    assert list(configs) == ["time"]
    assert configs["time"].command == "uvx"
    assert configs["time"].args == ("mcp-server-time",)


def test_name_followed_by_json_is_one_named_server() -> None:
    configs = parse_server_map('time {"command": "uvx", "args": ["mcp-server-time"]}')
    assert list(configs) == ["time"] and configs["time"].args == ("mcp-server-time",)


def test_name_followed_by_multiline_json_is_accepted() -> None:
    configs = parse_server_map('time\n{\n  "command": "uvx"\n}')
    assert configs["time"].command == "uvx"


def test_several_servers_keep_their_order() -> None:
    configs = parse_server_map(json.dumps({"mcpServers": {"b": TIME, "a": {"command": "npx"}}}))
    assert list(configs) == ["b", "a"]


def test_empty_text_is_refused_with_an_example() -> None:
    assert "Paste a JSON config" in refusal("   ")


def test_a_single_server_without_a_name_is_refused_with_how_to_name_it() -> None:
    assert "use `/mcp add-json NAME {...}`" in refusal(json.dumps(TIME))


def test_a_json_array_is_refused() -> None:
    assert refusal("[1, 2]") == "Expected a JSON object."


def test_an_empty_map_is_refused() -> None:
    assert refusal('{"mcpServers": {}}') == "No servers found in the JSON."


def test_too_many_servers_in_one_import_are_refused() -> None:
    many = {f"s{i}": TIME for i in range(MAX_SERVERS_PER_IMPORT + 1)}
    assert refusal(json.dumps({"mcpServers": many})) == f"At most {MAX_SERVERS_PER_IMPORT} servers at once."


def test_a_wrapper_that_is_not_an_object_is_refused() -> None:
    assert "`mcpServers` must be an object" in refusal('{"mcpServers": []}')


def test_unknown_top_level_fields_next_to_the_wrapper_are_refused() -> None:
    assert "Unknown top-level field `shell` next to `mcpServers`" in refusal(
        json.dumps({"mcpServers": {"time": TIME}, "shell": "/bin/sh"})
    )


def test_vscode_inputs_with_content_are_refused_for_now() -> None:
    assert "`inputs` are not supported" in refusal(
        json.dumps({"servers": {"time": TIME}, "inputs": [{"id": "k", "type": "promptString"}]})
    )


@pytest.mark.parametrize("field", ["shell", "user", "preexec", "privileged"])
def test_unknown_fields_inside_a_server_are_refused(field: str) -> None:
    message = refusal(json.dumps({"mcpServers": {"time": {**TIME, field: True}}}))
    assert message.startswith("`time`: unknown field") and field in message


@pytest.mark.parametrize(
    "entry",
    [
        {"type": "http", "url": "https://api.example.com/mcp"},
        {"type": "sse", "url": "https://api.example.com/sse"},
        {"url": "https://api.example.com/mcp", "headers": {"Authorization": "Bearer t"}},
    ],
)
def test_remote_entries_are_refused_with_a_pointer_to_mcp_connect(entry: dict[str, object]) -> None:
    message = refusal(json.dumps({"mcpServers": {"remote": entry}}))
    assert message == "`remote`: remote servers are added with `/mcp connect`, not as JSON."


@pytest.mark.parametrize(
    "name",
    [
        "ｇｉｔｈｕｂ",  # fullwidth lookalike
        "git\u200bhub",  # zero-width space
        "evil\u202eelif",  # right-to-left override
        "..",
        "a/b",
        "a" * 33,
        "GitHub",
        "GITHUB",
        "-lead",
        "_lead",
        "has space",
        "a__b",
        "🚀",
        "",
    ],
)
def test_bad_server_names_are_refused_in_every_shape(name: str) -> None:
    for document in ({"mcpServers": {name: TIME}}, {name: TIME}):
        message = refusal(json.dumps(document))
        assert message.startswith("Server name `"), message


def test_the_32_character_name_is_the_longest_allowed() -> None:
    assert list(parse_server_map(json.dumps({"a" * 32: TIME}))) == ["a" * 32]
    assert "at most 32 characters" in refusal(json.dumps({"a" * 33: TIME}))


def test_a_lookalike_name_in_the_name_then_json_shape_is_refused() -> None:
    assert refusal('ｇｉｔｈｕｂ {"command": "npx"}').startswith("Server name `ｇｉｔｈｕｂ`")


def test_a_duplicate_server_name_in_one_document_is_refused() -> None:
    assert "appears twice" in refusal('{"mcpServers": {"a": {"command": "x"}, "a": {"command": "y"}}}')


@pytest.mark.parametrize(
    "text",
    ['{"mcpServers": {"t": {"command": "uvx"}', 'time {"command": NaN}', '{"a": {"command": "x", "command": "y"}}'],
)
def test_malformed_or_sneaky_json_is_refused(text: str) -> None:
    refusal(text)


def test_a_rule_broken_inside_an_entry_names_the_server_and_field() -> None:
    message = refusal(json.dumps({"mcpServers": {"t": {"command": "npx", "env": {"NODE_OPTIONS": "--require x"}}}}))
    assert message.startswith("`t`: env: `NODE_OPTIONS` cannot be set")
