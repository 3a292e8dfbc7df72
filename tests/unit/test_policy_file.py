"""The admin policy file: safe defaults, every setting validated, and errors that name the file and setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.policy import DEFAULT_TOOL_DENYLIST, Policy, PolicyError, parse_policy
from app.wiring import egress_policy, load_policy

FULL = """
admins = ["U0ADMIN", "U0OTHER"]
admin_servers_for = "nobody"

[local_servers]
mode = "catalog"
read_only_paths = ["/srv/tools"]

[[local_servers.catalog]]
command = "uvx"
args_prefix = ["mcp-server-time==2025.1.0"]
description = "Time"

[limits]
servers_per_owner = 5
live_servers_per_owner = 3
processes = 32
memory_mb = 512
file_size_mb = 10
open_files = 128
result_chars_slack = 2000
result_chars_agent = 10000
description_chars = 500

[remote]
allowed_hosts = ["wiki.corp.internal", "10.20.0.0/16"]
allowed_ports = [443, 8443]

[tools]
denylist = ["^internal_"]
"""


def test_no_policy_file_means_sandboxed_local_servers_and_the_default_denylist() -> None:
    policy = load_policy(None)
    assert policy == Policy()
    assert policy.local_servers.mode == "sandboxed"
    assert policy.tools.denylist == DEFAULT_TOOL_DENYLIST
    assert policy.admins == ()
    assert policy.remote.allowed_hosts == () and policy.remote.allowed_ports == (443,)


def test_an_empty_file_is_the_defaults() -> None:
    assert parse_policy("") == Policy()


def test_every_setting_is_read(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(FULL)
    policy = load_policy(path)
    assert policy.admins == ("U0ADMIN", "U0OTHER")
    assert policy.local_servers.mode == "catalog"
    [entry] = policy.local_servers.catalog
    assert entry.matches("uvx", ("mcp-server-time==2025.1.0", "--local-timezone", "UTC"))
    assert not entry.matches("uvx", ("mcp-server-time",))
    assert not entry.matches("npx", ("mcp-server-time==2025.1.0",))
    assert policy.limits.processes == 32 and policy.limits.memory_mb == 512 and policy.limits.file_size_mb == 10
    assert policy.limits.result_chars_slack == 2000 and policy.limits.description_chars == 500
    assert policy.remote.allowed_ports == (443, 8443)
    assert policy.tools.denylist == ("^internal_",)
    assert egress_policy(policy).covers_name("wiki.corp.internal")


@pytest.mark.parametrize("mode", ["sandboxed", "catalog", "trusted", "off"])
def test_each_local_server_mode_is_accepted(mode: str) -> None:
    assert parse_policy(f'[local_servers]\nmode = "{mode}"').local_servers.mode == mode


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[local_servers]\nmode = "yolo"', "local_servers.mode"),
        ("[local_servers]\nshell = true", "local_servers.shell"),
        ("unknown_top_level = 1", "unknown_top_level"),
        ("[limits]\nprocesses = 1", "limits.processes"),
        ("[limits]\nmemory_mb = -5", "limits.memory_mb"),
        ("[limits]\nresult_chars_slack = 1000000", "limits.result_chars_slack"),
        ('[limits]\nprocesses = "many"', "limits.processes"),
        ('[tools]\ndenylist = ["(unclosed"]', "tools.denylist"),
        ("[[local_servers.catalog]]\nargs_prefix = []", "local_servers.catalog.0.command"),
        ('[remote]\nallowed_ports = ["https"]', "remote.allowed_ports"),
        ('admins = "U0ADMIN"', "admins"),
        ('[local_servers]\nread_only_paths = ["relative/dir"]', "local_servers.read_only_paths"),
        ('[local_servers]\nread_only_paths = ["/"]', "local_servers.read_only_paths"),
        ('[local_servers]\nread_only_paths = ["/srv/../etc"]', "local_servers.read_only_paths"),
    ],
)
def test_a_bad_setting_is_an_error_naming_the_file_and_the_setting(text: str, named: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="policy file /etc/plugboard/policy.toml")
    message = str(caught.value)
    assert message.startswith("policy file /etc/plugboard/policy.toml has invalid settings"), message
    assert named in message, message


def test_a_file_that_is_not_toml_is_an_error_saying_so() -> None:
    with pytest.raises(PolicyError, match=r"policy file x\.toml is not valid TOML"):
        parse_policy('mode = "sandboxed', source="policy file x.toml")


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(PolicyError, match=r"cannot read the policy file .*nope\.toml"):
        load_policy(missing)


def test_a_bad_allowed_host_is_an_error_naming_the_setting() -> None:
    policy = parse_policy('[remote]\nallowed_hosts = ["10.0.0.1/8"]')
    with pytest.raises(PolicyError, match=r"remote\.allowed_hosts"):
        egress_policy(policy)
