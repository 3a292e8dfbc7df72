"""A "server" that prints its secret on stderr and exits before speaking MCP: ``secret_echo_server.py``.

It stands for a real server that logs its configuration when it fails to start. It writes a few lines of
package-manager noise, then two lines that contain the value of ``$SECRET_TOKEN``, and exits with status 1 without
reading stdin or writing stdout. Tests check that the value never reaches Slack, the audit log or the app's log.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    token = os.environ.get("SECRET_TOKEN", "")
    sys.stderr.write("npm notice\nnpm notice New minor version of npm available!\n")
    sys.stderr.write(f"secret_echo_server: starting with SECRET_TOKEN={token}\n")
    sys.stderr.write(f"fatal: upstream refused the token {token}\n")
    sys.stderr.flush()
    sys.exit(1)


if __name__ == "__main__":
    main()
