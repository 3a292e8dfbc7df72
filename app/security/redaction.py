"""Secret values out of text that is shown or logged: stderr lines, error messages, audit previews.

A server's secrets are its env values (local) or its API key / client secret (remote), as returned by the config's
`secret_values()`. Every occurrence of one in a text becomes `«redacted NAME»`, where NAME is the variable (or
secret) it came from, so the owner still learns *which* setting was echoed.

Values shorter than MIN_SECRET_CHARS are left alone: a value such as `1`, `on` or `dev` also occurs in ordinary
words and numbers, and replacing every occurrence would mangle the very message that explains the failure (such a
value is no secret worth the name). Longer values are replaced longest first, so a value that contains another
one is replaced whole, and overlapping occurrences of two values become one marker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MIN_SECRET_CHARS = 4
# `Authorization: Bearer abc…`: a server that logs the header value usually logs only the token after the scheme.
_SCHEME_VALUE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,20} (\S+)$")


def marker(name: str) -> str:
    return f"«redacted {name}»"


def redact(text: str, secrets: Mapping[str, str]) -> str:
    """`text` with every secret value (of at least MIN_SECRET_CHARS characters) replaced by its marker.

    Overlapping occurrences of different secrets become one marker (named after the longest), so no character of
    any secret is left behind."""
    names = _names_by_value(secrets)
    if not text or not names:
        return text
    spans: list[tuple[int, int, str]] = []
    for value in sorted(names, key=len, reverse=True):
        start = text.find(value)
        while start >= 0:
            spans.append((start, start + len(value), value))
            start = text.find(value, start + 1)
    if not spans:
        return text
    spans.sort(key=lambda span: (span[0], -(span[1] - span[0])))
    pieces: list[str] = []
    done = 0
    group_start, group_end, longest = spans[0]
    for start, end, value in spans[1:]:
        if start < group_end:  # overlaps the current group: widen it
            group_end = max(group_end, end)
            longest = value if len(value) > len(longest) else longest
            continue
        pieces += [text[done:group_start], marker(names[longest])]
        done = group_end
        group_start, group_end, longest = start, end, value
    pieces += [text[done:group_start], marker(names[longest]), text[group_end:]]
    return "".join(pieces)


class Redactor:
    """One server's secrets, bound once: `redactor(text)` redacts them from any text."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._secrets = dict(secrets)

    def __call__(self, text: str) -> str:
        return redact(text, self._secrets)


def _names_by_value(secrets: Mapping[str, str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for name, value in secrets.items():
        candidates = [value]
        if scheme := _SCHEME_VALUE.match(value):
            candidates.append(scheme.group(1))
        for candidate in candidates:
            if len(candidate) >= MIN_SECRET_CHARS:
                names.setdefault(candidate, name)
    return names
