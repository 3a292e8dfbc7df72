"""The layers hold: `lint-imports` checks the contracts in pyproject.toml ([tool.importlinter]).

A wrong-way import (the Slack edge reaching the store, settings importing the runtime, the domain importing a
service…) fails here, so `make test` fails with the offending import chain shown.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_import_contract_is_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    assert lint_imports.is_file(), f"{lint_imports} is missing: install the dev extras (import-linter)"
    command = [str(lint_imports), "--no-cache", "--no-logo"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"lint-imports failed:\n{done.stdout}\n{done.stderr}"
