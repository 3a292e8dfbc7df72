"""The README's examples stay true."""

from __future__ import annotations

import re
from pathlib import Path

from app.domain.policy import parse_policy

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
