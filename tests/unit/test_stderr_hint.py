"""The stderr hint in a failure message skips package-manager noise and shows the server's own last words."""

from __future__ import annotations

import pytest

from app.runtime.stderr_hint import MAX_HINT_CHARS, MAX_LINE_CHARS, is_noise, last_words, meaningful_lines, stderr_hint
from app.security.redaction import Redactor

NO_SECRETS = Redactor({})


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "npm notice New major version of npm available! 10.8.2 -> 11.0.0",
        "npm warn deprecated inflight@1.0.6: This module is not supported",
        "npm WARN config production Use `--omit=dev` instead.",
        "npm http fetch GET 200 https://registry.npmjs.org/pkg 120ms",
        "npm error A complete log of this run can be found in: /home/plugboard/.npm/_logs/x-debug-0.log",
        "Need to install the following packages:",
        "Resolved 12 packages in 345ms",
        "Prepared 3 packages in 120ms",
        "Installed 12 packages in 15ms",
        "Installed 1 package in 2ms",
        "Audited 4 packages in 1ms",
        "Downloading pydantic-core (1.9MiB)",
        "Downloaded pydantic-core",
        "Built my-server @ file:///home/plugboard/src",
        "Building wheel==1.0",
        "Collecting mcp (from -r requirements.txt (line 1))",
        " + mcp==1.2.0",
        " - anyio==3.7.1",
        "Using CPython 3.12.3 interpreter at: /usr/bin/python3",
        "Collecting mcp",
        "----------",
        "...",
        "=====>",
        "⠙",
        "⠹ Resolving dependencies",
        "[##########..........] 50%",
        "━━━━━━━━━━━━━━━━ 12.0/12.0 MB",
        "45%",
    ],
)
def test_package_manager_chatter_spinners_progress_and_punctuation_are_noise(line: str) -> None:
    assert is_noise(line)


@pytest.mark.parametrize(
    "line",
    [
        "Error: Cannot find module '/home/plugboard/server.js'",
        "npm error code E404",
        "npm ERR! 404 Not Found - GET https://registry.npmjs.org/@nope%2fserver",
        "ModuleNotFoundError: No module named 'foo'",
        "error: Failed to spawn: `mcp-server-nope`",
        "  Caused by: No such file or directory (os error 2)",
        "Installed pandas but the server needs numpy",
        "GITHUB_TOKEN is not set",
        "Downloading model weights failed: HTTP 403",
        "Built-in tool registry is empty",
        "Collecting metrics is disabled, exiting",
    ],
)
def test_what_a_server_or_runner_says_about_the_failure_is_kept(line: str) -> None:
    assert not is_noise(line)


NPX_FAILURE = """\
npm warn exec The following package was not found and will be installed: @scope/server@1.0.0
npm notice
npm notice New major version of npm available! 10.8.2 -> 11.0.0
npm notice
⠙\r⠹\r⠸\r
Error: GITHUB_TOKEN is not set
    at main (/home/plugboard/.npm/_npx/1/node_modules/@scope/server/dist/index.js:12:11)

npm notice To update run: npm install -g npm@11.0.0
"""

UVX_FAILURE = """\
Resolved 12 packages in 345ms
Prepared 3 packages in 120ms
Installed 12 packages in 15ms
 + anyio==4.16.0
 + mcp==2.3.0
Traceback (most recent call last):
  File "/home/plugboard/.cache/uv/bin/server", line 8, in <module>
    sys.exit(main())
RuntimeError: could not reach the database
"""


def test_the_hint_shows_the_last_meaningful_lines_of_an_npx_failure() -> None:
    assert last_words(NPX_FAILURE, NO_SECRETS) == [
        "Error: GITHUB_TOKEN is not set",
        "at main (/home/plugboard/.npm/_npx/1/node_modules/@scope/server/dist/index.js:12:11)",
    ]


def test_the_hint_shows_the_end_of_a_python_traceback_after_uv_output() -> None:
    assert last_words(UVX_FAILURE, NO_SECRETS) == [
        'File "/home/plugboard/.cache/uv/bin/server", line 8, in <module>',
        "sys.exit(main())",
        "RuntimeError: could not reach the database",
    ]
    assert stderr_hint(UVX_FAILURE, NO_SECRETS).startswith('; last stderr lines: File "/home/plugboard')
    assert stderr_hint(UVX_FAILURE, NO_SECRETS).endswith(" / RuntimeError: could not reach the database")


def test_a_single_meaningful_line_is_called_the_last_stderr_line() -> None:
    assert stderr_hint("npm notice x\nboom\n\n", NO_SECRETS) == "; last stderr line: boom"


def test_nothing_but_noise_gives_no_hint_at_all() -> None:
    assert stderr_hint("npm notice x\nResolved 1 package in 1ms\n---\n", NO_SECRETS) == ""
    assert stderr_hint("", NO_SECRETS) == ""


def test_colours_and_control_characters_are_removed_and_carriage_return_progress_shows_its_last_state() -> None:
    assert meaningful_lines("\x1b[31mError:\x1b[0m bad\x07 thing\n10%\r55%\rfailed at 55%\n") == [
        "Error: bad thing",
        "failed at 55%",
    ]


def test_secret_values_in_stderr_are_redacted_in_the_hint() -> None:
    hint = stderr_hint("token sk-live-canary-12345 was refused\n", Redactor({"SECRET_TOKEN": "sk-live-canary-12345"}))
    assert hint == "; last stderr line: token «redacted SECRET_TOKEN» was refused"


def test_long_lines_are_cut_and_the_whole_hint_is_capped_keeping_the_last_line() -> None:
    text = "\n".join(f"line {i} " + "x" * 400 for i in range(3))
    lines = last_words(text, NO_SECRETS)
    assert all(len(line) <= MAX_LINE_CHARS for line in lines) and lines[-1].endswith("…")
    hint = stderr_hint(text, NO_SECRETS)
    assert len(hint) <= MAX_HINT_CHARS + len("; last stderr lines: ")
    assert "line 2" in hint and "line 0" not in hint
