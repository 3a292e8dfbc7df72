"""What a failed server said on stderr, in one to three lines its owner can act on.

Package managers print a lot before the server itself says anything (`npm notice …`, uv's `Resolved 12 packages`,
spinners, progress bars); the server's own last words are usually the error. So the hint skips that noise, keeps
the last few meaningful lines, redacts the server's secrets and caps the length.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MAX_LINES = 3
MAX_LINE_CHARS = 200
MAX_HINT_CHARS = 500

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NOISE = re.compile(
    r"^("
    # npm and npx chatter; `npm error …` lines stay, except the pointer to a log file the owner cannot open
    r"(?i:npm (notice|warn|http|info|verb|verbose|timing|sill)\b)"
    r"|(?i:npm (error|ERR!) (A complete log of this run|Log files were not written))"
    r"|Need to install the following packages:"
    # uv / uvx / pip progress reports
    r"|(Installed|Uninstalled|Resolved|Prepared|Audited|Bytecode compiled) \d+ packages?\b"
    r"|Download(ing|ed) [\w.\[\]-]+( \([^)]*\))?$|Buil(t|ding) [\w.\[\]-]+( @ \S+|==\S+)?$"
    r"|Using (CPython|PyPy|Python) \d|Creating virtual environment\b"
    r"|[+~-] [A-Za-z0-9_.\[\],-]+(==| @ | from )"
    r"|Collecting \S+( \(.*\))?$|Requirement already satisfied\b|Successfully installed\b"
    r")"
)
# A spinner frame at the start (`⠙ Resolving…`), a progress bar (`[#####.....]`, `━━━━━━`) or a bare percentage.
_PROGRESS = re.compile(r"^[\u2800-\u28ff◐◓◑◒]|[#=█▓▒░■━─]{5,}|^\d{1,3}(\.\d+)?\s?%")


def is_noise(line: str) -> bool:
    """True for lines that say nothing about why the server failed."""
    stripped = line.strip()
    if not any(ch.isalnum() for ch in stripped):  # blank, or only punctuation / box drawing
        return True
    return bool(_NOISE.match(stripped) or _PROGRESS.search(stripped))


def meaningful_lines(text: str) -> list[str]:
    """Every line of `text` that is not noise, cleaned of colours and control characters.

    A line rewritten with carriage returns (progress output) counts as what a terminal would show last."""
    lines: list[str] = []
    for raw in text.splitlines():
        shown = next((part for part in reversed(raw.split("\r")) if part.strip()), "")
        line = _CONTROL.sub("", _ANSI.sub("", shown)).strip()
        if not is_noise(line):
            lines.append(line)
    return lines


def last_words(text: str, redact: Callable[[str], str], *, max_lines: int = MAX_LINES) -> list[str]:
    """The last `max_lines` meaningful lines, secrets redacted, each cut to MAX_LINE_CHARS."""
    chosen = meaningful_lines(redact(text))[-max_lines:]  # redacted whole: a cut cannot split a secret
    return [line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…" for line in chosen]


def stderr_hint(text: str, redact: Callable[[str], str]) -> str:
    """`; last stderr lines: A / B` for an error message, or "" when stderr said nothing meaningful."""
    lines = last_words(text, redact)
    while len(lines) > 1 and len(" / ".join(lines)) > MAX_HINT_CHARS:
        lines = lines[1:]  # the last line matters most: drop the oldest first
    if not lines:
        return ""
    label = "last stderr line" if len(lines) == 1 else "last stderr lines"
    return f"; {label}: " + " / ".join(lines)
