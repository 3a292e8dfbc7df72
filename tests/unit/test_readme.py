"""The README's examples stay true."""

from __future__ import annotations

import re
from pathlib import Path

from app.domain.policy import parse_policy
from app.domain.policy_reference import (
    END_MARKER,
    REGENERATE,
    START_MARKER,
    current_block,
    missing_descriptions,
    policy_keys,
    reference_block,
    reference_table,
    unknown_descriptions,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_admin_policy_example_in_the_readme_is_a_valid_policy() -> None:
    block = re.search(r"```toml\n(.*?)```", README.read_text(), re.DOTALL)
    assert block is not None
    policy = parse_policy(block.group(1), source="README example")
    assert policy.local_servers.mode == "sandboxed"
    assert policy.remote.allowed_ports == (443,)


def test_the_readme_quick_start_gives_both_commands() -> None:
    text = README.read_text()
    assert "make run" in text and "make test" in text


def test_the_readme_policy_reference_is_the_one_generated_from_the_policy_model() -> None:
    shown = current_block(README.read_text())
    assert shown is not None, f"README.md lost its {START_MARKER} … {END_MARKER} block in 'Admin policy'"
    assert shown == reference_block(), f"README.md's admin policy reference is out of date: run `{REGENERATE}`"


def test_every_key_of_the_policy_model_is_described_in_the_reference() -> None:
    assert missing_descriptions() == [], (
        "describe these policy keys (Field(description=...) or DESCRIPTIONS in app/domain/policy_reference.py)"
    )
    assert unknown_descriptions() == [], "these described keys are no longer in the policy model"


def test_the_policy_reference_lists_every_key_a_policy_file_can_set() -> None:
    table = reference_table()
    for path in (
        "admins",
        "admin_servers_for",
        "local_servers.mode",
        "local_servers.catalog",
        "local_servers.catalog[].args_prefix",
        "local_servers.read_only_paths",
        "local_servers.network",
        "local_servers.allow_host_network",
        "local_servers.allow_networks",
        "local_servers.uid_base",
        "local_servers.uid_count",
        "local_servers.tun_gid",
        "limits.servers_per_owner",
        "limits.home_quota_mb",
        "remote.allowed_hosts",
        "remote.allow_http_loopback",
        "remote.allowed_ports",
        "remote.allow_any_port",
        "tools.denylist",
    ):
        assert f"| `{path}` |" in table, path
    assert "| `limits.memory_mb` | integer, at least 64, at most 65536 | `1024` |" in table
    assert '| `local_servers.mode` | one of `"sandboxed"`, `"catalog"`, `"trusted"`, `"off"` | `"sandboxed"` |' in table


def test_every_key_in_the_policy_reference_is_accepted_by_the_policy_parser() -> None:
    """The table names keys as a policy file spells them: setting each to its default is a valid policy."""
    for key in policy_keys():
        if "[]" in key.path or not key.default.startswith("`"):
            continue
        section, _, name = key.path.rpartition(".")
        value = key.default.strip("`")
        text = f"[{section}]\n{name} = {value}\n" if section else f"{name} = {value}\n"
        parse_policy(text, source=f"reference row {key.path}")
