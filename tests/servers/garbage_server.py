"""A "server" that prints non-JSON-RPC garbage on stdout and never speaks MCP.

``garbage_server.py [--interval SECONDS] [--binary] [--pid-file PATH]``

It writes a burst of garbage at startup and then one every ``--interval`` seconds (default 0.05): plain text,
partial JSON, JSON that is not JSON-RPC, and a JSON-RPC response to a request nobody sent, all valid UTF-8.
``--binary`` adds a line of invalid UTF-8 to each burst. It never answers what it reads. It exits (status 0) as
soon as stdin closes or stdout breaks, so it cannot outlive its client. ``--pid-file PATH`` writes its pid there
first (so a test can check the process is gone afterwards).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

GARBAGE = (
    b"hello world\n",
    b'{"jsonrpc": "2.0", "id": 1, "result": {"protocolVers\n',
    b"Starting server... (this is not JSON)\n",
    b'{"not": "jsonrpc"}\n',
    b"[1, 2, 3\n",
    b'{"jsonrpc": "2.0", "id": 987654, "result": {}}\n',
)
# Not valid UTF-8: only with --binary.
BINARY_GARBAGE = b"\x00\x01\x02 binary junk \xff\xfe\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--binary", action="store_true", help="also write invalid UTF-8")
    parser.add_argument("--pid-file", default=None)
    args = parser.parse_args()
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write(str(os.getpid()))
    stdin_closed = threading.Event()

    def drain_stdin() -> None:
        try:
            while os.read(sys.stdin.fileno(), 65536):
                pass
        except OSError:
            pass
        stdin_closed.set()

    threading.Thread(target=drain_stdin, daemon=True).start()
    out = sys.stdout.buffer
    burst = b"".join(GARBAGE) + (BINARY_GARBAGE if args.binary else b"")
    try:
        while True:
            out.write(burst)
            out.flush()
            if stdin_closed.wait(args.interval):
                break
    except (BrokenPipeError, ValueError, OSError):
        # The reader went away: exit quietly without the interpreter's flush-at-exit complaining again.
        os._exit(0)


if __name__ == "__main__":
    main()
