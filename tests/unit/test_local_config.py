"""The rules a local (stdio) server config must pass before anyone is even asked to confirm it."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.errors import InvalidConfig
from app.domain.local_config import (
    MAX_ARG_BYTES,
    MAX_ARGS,
    MAX_COMMAND_BYTES,
    MAX_ENV,
    LocalServerConfig,
    build_local_config,
    config_from_mapping,
    parse_arg_lines,
    parse_env_lines,
)


def build(**overrides: Any) -> LocalServerConfig:
    fields: dict[str, Any] = {"command": "npx", "args": [], "env": {}, "cwd": None}
    fields.update(overrides)
    return build_local_config(**fields)


def problems_of(**overrides: Any) -> dict[str, str]:
    with pytest.raises(InvalidConfig) as caught:
        build(**overrides)
    return caught.value.problems


# -- build_local_config: what is accepted ------------------------------------------------------------------


def test_a_plain_config_is_kept_exactly_as_given() -> None:
    config = build(command="npx", args=["-y", "@scope/pkg@1.2.3", "two words"], env={"API_KEY": "v=1"}, cwd="work")
    assert config.command == "npx"
    assert config.args == ("-y", "@scope/pkg@1.2.3", "two words")
    assert config.env == {"API_KEY": "v=1"}
    assert config.cwd == "work"


def test_surrounding_whitespace_of_the_command_is_ignored_and_a_blank_cwd_means_none() -> None:
    config = build(command="  uvx \n", cwd="   ")
    assert config.command == "uvx"
    assert config.cwd is None


def test_an_environment_value_like_a_placeholder_is_stored_literally() -> None:
    config = build(env={"TOKEN": "${SLACK_BOT_TOKEN}"})
    assert config.env == {"TOKEN": "${SLACK_BOT_TOKEN}"}


def test_env_values_never_appear_in_repr_or_str() -> None:
    config = build(env={"API_KEY": "hunter2-secret"})
    assert "hunter2-secret" not in repr(config)
    assert "hunter2-secret" not in str(config)
    assert "API_KEY" in repr(config)


def test_the_command_line_is_shell_quoted_and_never_truncated() -> None:
    long_arg = "x" * 3000
    config = build(command="python", args=["-m", "pkg", "two words", long_arg])
    line = config.command_line()
    assert line.startswith("python -m pkg 'two words' ")
    assert line.endswith(long_arg)


def test_the_approval_hash_changes_with_anything_that_runs_and_only_then() -> None:
    base = build(args=["a"], env={"K": "1"})
    assert base.approval_hash() == build(args=["a"], env={"K": "1"}).approval_hash()
    for changed in (
        build(args=["b"], env={"K": "1"}),
        build(args=["a"], env={"K": "2"}),
        build(args=["a"], env={"K": "1"}, cwd="sub"),
        build(command="uvx", args=["a"], env={"K": "1"}),
    ):
        assert changed.approval_hash() != base.approval_hash()
        assert changed.runtime_differs_from(base)
    assert not base.runtime_differs_from(build(args=["a"], env={"K": "1"}))


def test_the_model_refuses_fields_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="shell"):
        LocalServerConfig(command="npx", shell=True)  # type: ignore[call-arg]


# -- build_local_config: command ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["", "   ", "\n"])
def test_an_empty_command_is_refused(command: str) -> None:
    assert "Enter the program to run" in problems_of(command=command)["command"]


def test_a_command_with_spaces_is_refused_with_a_hint_to_use_arguments() -> None:
    problems = problems_of(command="npx x; curl evil | sh")
    assert "Put only the program in Command" in problems["command"]


def test_a_command_with_a_tab_is_refused() -> None:
    assert "command" in problems_of(command="np\tx")


def test_a_nul_byte_in_the_command_is_refused_before_anything_can_spawn() -> None:
    assert problems_of(command="npx\x00evil") == {"command": "The command contains a NUL byte."}


def test_control_characters_in_the_command_are_refused() -> None:
    assert "control characters" in problems_of(command="np\x1bx")["command"]


def test_a_command_longer_than_the_limit_in_bytes_is_refused() -> None:
    assert build(command="a" * MAX_COMMAND_BYTES).command == "a" * MAX_COMMAND_BYTES
    assert f"longer than {MAX_COMMAND_BYTES} bytes" in problems_of(command="a" * (MAX_COMMAND_BYTES + 1))["command"]
    # bytes, not characters: 129 two-byte characters are 258 bytes
    assert "longer than" in problems_of(command="é" * 129)["command"]


@pytest.mark.parametrize("hidden", ["\u200b", "\u202e", "\u2066", "\ufeff", "\u00ad", "\x85"])
def test_invisible_characters_in_the_command_are_refused_so_the_confirmation_shows_what_runs(hidden: str) -> None:
    assert "invisible characters" in problems_of(command=f"np{hidden}x")["command"]


def test_a_lone_surrogate_in_the_command_is_refused_instead_of_crashing() -> None:
    assert "invalid Unicode" in problems_of(command="npx\ud800")["command"]


# -- build_local_config: args ------------------------------------------------------------------------------


def test_up_to_the_maximum_number_of_arguments_is_fine_and_one_more_is_refused() -> None:
    assert len(build(args=["a"] * MAX_ARGS).args) == MAX_ARGS
    assert problems_of(args=["a"] * (MAX_ARGS + 1)) == {"args": f"At most {MAX_ARGS} arguments (got {MAX_ARGS + 1})."}


def test_an_argument_longer_than_the_limit_is_refused_naming_its_position() -> None:
    problems = problems_of(args=["ok", "a" * (MAX_ARG_BYTES + 1)])
    assert problems == {"args": f"Argument 2 is longer than {MAX_ARG_BYTES} bytes."}


def test_a_command_line_longer_than_8kb_in_total_is_refused() -> None:
    assert "whole command line" in problems_of(args=["a" * 4000] * 3)["args"]


def test_a_nul_byte_in_an_argument_is_refused() -> None:
    assert problems_of(args=["fine", "a\x00b"]) == {"args": "Argument 2 contains a NUL byte."}


def test_an_empty_argument_is_allowed_because_programs_may_need_one() -> None:
    assert build(args=["--name", ""]).args == ("--name", "")


def test_invisible_characters_in_an_argument_are_refused() -> None:
    assert "invisible characters" in problems_of(args=["--flag", "evil\u202eelif"])["args"]


# -- build_local_config: env -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "LD_AUDIT",
        "DYLD_INSERT_LIBRARIES",
        "GLIBC_TUNABLES",
        "GCONV_PATH",
        "MALLOC_CONF",
        "OPENSSL_CONF",
        "OPENSSL_ENGINES",
        "OPENSSL_MODULES",
        "NODE_OPTIONS",
        "NODE_PATH",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PYTHONINSPECT",
        "PYTHONHOME",
        "PERL5OPT",
        "RUBYOPT",
        "JAVA_TOOL_OPTIONS",
        "BASH_ENV",
        "ENV",
        "IFS",
        "XDG_CONFIG_HOME",
        "GIT_SSH_COMMAND",
        "GIT_CONFIG_GLOBAL",
        "NPM_CONFIG_NODE_OPTIONS",
        "NPM_CONFIG_SCRIPT_SHELL",
        "NPM_CONFIG_USERCONFIG",
        "UV_CONFIG_FILE",
        "PIP_CONFIG_FILE",
    ],
)
def test_environment_names_that_change_which_code_runs_are_refused_naming_the_key(name: str) -> None:
    problems = problems_of(env={name: "x"})
    assert problems == {
        "env": f"`{name}` cannot be set: it changes which code runs (what the program loads, "
        "or a config file you would not see here)."
    }


@pytest.mark.parametrize(
    "name",
    [
        "NODE_TLS_REJECT_UNAUTHORIZED",
        "NODE_EXTRA_CA_CERTS",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "SSLKEYLOGFILE",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "PYTHONHTTPSVERIFY",
        "GIT_SSL_NO_VERIFY",
        "GIT_SSL_CAINFO",
        "NPM_CONFIG_STRICT_SSL",
        "NPM_CONFIG_CAFILE",
        "PIP_TRUSTED_HOST",
        "PIP_CERT",
        "UV_INSECURE_HOST",
        "YARN_ENABLE_STRICT_SSL",
    ],
)
def test_environment_names_that_weaken_tls_are_refused_naming_the_key_and_tls(name: str) -> None:
    problems = problems_of(env={name: "0"})
    assert problems == {
        "env": f"`{name}` cannot be set: it changes which certificates are trusted or weakens TLS checks."
    }


@pytest.mark.parametrize("name", ["PATH", "HOME", "SHELL", "USER", "LOGNAME", "TERM", "LANG", "TMPDIR"])
def test_environment_names_plugboard_sets_itself_are_refused_naming_the_key(name: str) -> None:
    assert problems_of(env={name: "x"}) == {"env": f"`{name}` cannot be set: Plugboard sets it itself."}


@pytest.mark.parametrize(
    "name",
    [
        "NPM_CONFIG_REGISTRY",
        "UV_INDEX_URL",
        "UV_EXTRA_INDEX_URL",
        "UV_DEFAULT_INDEX",
        "UV_INDEX",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "YARN_REGISTRY",
        "PNPM_CONFIG_REGISTRY",
        "BUN_CONFIG_REGISTRY",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
    ],
)
def test_package_registry_and_proxy_settings_are_allowed_because_the_confirmation_flags_them(name: str) -> None:
    assert build(env={name: "https://mirror.example/"}).env == {name: "https://mirror.example/"}


def test_ordinary_variables_that_merely_look_alike_are_allowed() -> None:
    env = {"API_KEY": "k", "NODE_ENV": "production", "MY_PATH_PREFIX": "/x", "GITHUB_TOKEN": "t", "ENVIRONMENT": "p"}
    assert build(env=env).env == env


@pytest.mark.parametrize("name", ["lowercase", "A=B", "1ABC", "A B", "_X", "ÄPFEL", "Ａ", "A-B", "A" * 65])
def test_environment_names_outside_the_uppercase_rule_are_refused(name: str) -> None:
    assert "is not a valid variable name" in problems_of(env={name: "x"})["env"]


def test_an_empty_environment_name_is_refused() -> None:
    assert problems_of(env={"": "x"}) == {"env": "An environment variable has an empty name."}


def test_more_than_the_maximum_number_of_environment_variables_is_refused() -> None:
    assert len(build(env={f"K{i}": "v" for i in range(MAX_ENV)}).env) == MAX_ENV
    assert "At most 32" in problems_of(env={f"K{i}": "v" for i in range(MAX_ENV + 1)})["env"]


def test_a_nul_byte_in_an_environment_value_is_refused_and_the_value_is_not_echoed() -> None:
    message = problems_of(env={"TOKEN": "sec\x00ret"})["env"]
    assert message == "The value of TOKEN contains a NUL byte."


def test_environment_values_may_hold_any_visible_text_including_equals_signs() -> None:
    assert build(env={"DSN": "a=b;c=d", "EMPTY": ""}).env == {"DSN": "a=b;c=d", "EMPTY": ""}


# -- build_local_config: cwd and several problems at once ---------------------------------------------------


@pytest.mark.parametrize("cwd", ["../../..", "a/../../b", "/srv/../etc"])
def test_a_working_directory_with_dotdot_is_refused(cwd: str) -> None:
    assert problems_of(cwd=cwd) == {"cwd": "The working directory cannot contain `..`."}


def test_a_nul_byte_in_the_working_directory_is_refused() -> None:
    assert "NUL" in problems_of(cwd="a\x00b")["cwd"]


def test_every_bad_field_is_reported_at_once_keyed_by_field() -> None:
    problems = problems_of(command="", args=["a\x00"], env={"PATH": "/x"}, cwd="..")
    assert set(problems) == {"command", "args", "env", "cwd"}


# -- parse_env_lines ---------------------------------------------------------------------------------------


def test_env_lines_split_on_the_first_equals_sign_only() -> None:
    assert parse_env_lines("A=B=C") == {"A": "B=C"}


def test_env_lines_skip_blank_lines_and_comments_and_allow_empty_values() -> None:
    assert parse_env_lines("\n# a comment\nKEY=value\n\n   \nEMPTY=\n") == {"KEY": "value", "EMPTY": ""}


def test_an_env_line_without_equals_is_refused_naming_the_line() -> None:
    with pytest.raises(InvalidConfig) as caught:
        parse_env_lines("GOOD=1\nJUSTANAME")
    assert caught.value.problems == {"env": "Line 2 is not `KEY=value`."}


def test_an_env_line_starting_with_equals_gives_an_empty_name_that_validation_refuses() -> None:
    env = parse_env_lines("=value")
    assert env == {"": "value"}
    assert problems_of(env=env) == {"env": "An environment variable has an empty name."}


def test_the_same_env_name_twice_is_refused() -> None:
    with pytest.raises(InvalidConfig) as caught:
        parse_env_lines("A=1\nA=2")
    assert caught.value.problems == {"env": "`A` is set twice."}


# -- parse_arg_lines ---------------------------------------------------------------------------------------


def test_each_arg_line_is_one_argument_never_split_on_spaces() -> None:
    assert parse_arg_lines("-y\n@scope/pkg\ntwo words\n --padded ") == ["-y", "@scope/pkg", "two words", " --padded "]


def test_blank_arg_lines_are_dropped_and_crlf_is_understood() -> None:
    assert parse_arg_lines("a\r\n\r\n   \nb\n") == ["a", "b"]
    assert parse_arg_lines("") == []


# -- config_from_mapping -----------------------------------------------------------------------------------


def json_problem(entry: Any) -> str:
    with pytest.raises(InvalidConfig) as caught:
        config_from_mapping(entry, where="`srv`")
    assert set(caught.value.problems) == {"json"}
    return caught.value.problems["json"]


def test_a_mapping_in_the_familiar_shape_becomes_a_config() -> None:
    config = config_from_mapping(
        {"type": "stdio", "command": "uvx", "args": ["mcp-server-time"], "env": {"TZ_NAME": "UTC"}, "cwd": "w"},
        where="`time`",
    )
    assert (config.command, config.args, config.env, config.cwd) == (
        "uvx",
        ("mcp-server-time",),
        {"TZ_NAME": "UTC"},
        "w",
    )


@pytest.mark.parametrize("field", ["shell", "user", "preexec", "privileged"])
def test_unknown_fields_in_a_mapping_are_refused_by_name(field: str) -> None:
    assert f"unknown field `{field}`" in json_problem({"command": "npx", field: True})


@pytest.mark.parametrize(
    "entry",
    [
        {"type": "http", "url": "https://example.com/mcp"},
        {"type": "sse", "url": "https://example.com/sse"},
        {"url": "https://example.com/mcp"},
        {"type": "http", "url": "https://example.com/mcp", "headers": {"Authorization": "Bearer x"}},
        {"serverUrl": "https://example.com/mcp"},
        {"type": "streamable-http", "url": "https://example.com/mcp"},
    ],
)
def test_remote_entries_are_refused_with_a_pointer_to_mcp_connect(entry: dict[str, Any]) -> None:
    assert "remote servers are added with `/mcp connect`" in json_problem(entry)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("npx", "expected an object with `command`, got str"),
        ({"args": []}, "`command` must be a string"),
        ({"command": ["npx"]}, "`command` must be a string"),
        ({"command": "npx", "args": "-y pkg"}, "`args` must be a list of strings"),
        ({"command": "npx", "args": [1]}, "`args` must be a list of strings"),
        ({"command": "npx", "env": {"A": 1}}, "`env` must map names to string values"),
        ({"command": "npx", "env": ["A=1"]}, "`env` must map names to string values"),
        ({"command": "npx", "cwd": 5}, "`cwd` must be a string"),
        ({"command": "npx", "type": "docker"}, '`type` must be "stdio"'),
        ({"command": "npx", "type": ["http"]}, '`type` must be "stdio"'),
    ],
)
def test_mapping_fields_of_the_wrong_type_are_refused_clearly(entry: Any, expected: str) -> None:
    assert expected in json_problem(entry)


def test_a_rule_broken_inside_a_mapping_is_reported_with_where_and_field() -> None:
    assert json_problem({"command": "npx", "env": {"LD_PRELOAD": "/tmp/x.so"}}).startswith("`srv`: env: `LD_PRELOAD`")
    assert json_problem({"command": "npx", "args": ["a\x00"]}) == "`srv`: args: Argument 1 contains a NUL byte."
