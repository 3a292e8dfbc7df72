"""A "server" that never answers anything, not even ``initialize``: ``silent_server.py [--pid-file PATH]``.

It reads stdin until EOF, discarding everything, and writes nothing to stdout. It exits with status 0 as soon
as stdin closes, so a client that gives up and closes the pipe reaps it without needing a signal.
``--pid-file PATH`` writes its pid there first (so a test can check the process is gone afterwards).
"""

from __future__ import annotations

import argparse
import os
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pid-file", default=None)
    args = parser.parse_args()
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write(str(os.getpid()))
    while os.read(sys.stdin.fileno(), 65536):
        pass


if __name__ == "__main__":
    main()
