"""Tiny deterministic MCP servers for integration tests.

Each ``<name>.py`` here is a standalone script: ``python tests/servers/<name>.py [args]`` speaks (or
deliberately fails to speak) MCP over stdio. They import only the stdlib and ``mcp``, never the project or
``tests``, so they work from any cwd with a cleared environment as long as they are started with the venv's
interpreter (``PYTHON``).
"""

from __future__ import annotations

import sys
from pathlib import Path

PYTHON: str = sys.executable
SERVERS_DIR: Path = Path(__file__).resolve().parent


def server_path(name: str) -> str:
    """Absolute path of ``tests/servers/<name>.py`` (``name`` may include or omit the ``.py``)."""
    filename = name if name.endswith(".py") else f"{name}.py"
    path = SERVERS_DIR / filename
    if not path.is_file():
        raise FileNotFoundError(f"no test server named {name!r} in {SERVERS_DIR}")
    return str(path)
