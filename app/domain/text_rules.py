"""Which characters count as invisible: text must not hide anything in what the user or the model reads."""

from __future__ import annotations

import re
import unicodedata

# Zero-width characters, bidi overrides and isolates, word joiners and the byte-order mark.
ZERO_WIDTH_AND_BIDI = "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
# Those plus control characters (tab and newline stay).
_INVISIBLE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{ZERO_WIDTH_AND_BIDI}]")
_ZERO_WIDTH_OR_BIDI = re.compile(f"[{ZERO_WIDTH_AND_BIDI}]")


def strip_invisible(text: str) -> str:
    """`text` without control characters, zero-width and bidi characters or any other format (Cf) character."""
    return "".join(ch for ch in _INVISIBLE.sub("", text) if unicodedata.category(ch) != "Cf")


def has_invisible(text: str) -> bool:
    """Whether `strip_invisible` would change `text`: shown text would then differ from what it is."""
    return strip_invisible(text) != text


def has_zero_width_or_bidi(text: str) -> bool:
    """The narrower tell of hidden text in tool descriptions: zero-width or bidi characters."""
    return _ZERO_WIDTH_OR_BIDI.search(text) is not None
