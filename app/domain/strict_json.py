"""JSON parsing that refuses what Python's json module silently accepts."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from app.domain.errors import InvalidConfig

MAX_JSON_BYTES = 64 * 1024
MAX_DEPTH = 32
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def loads_strict(text: str, *, field: str = "json", max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse JSON, refusing duplicate keys, NaN/Infinity, huge documents and deep nesting."""
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise InvalidConfig.single(field, f"The JSON is larger than {max_bytes // 1024} KB.")
    if _SURROGATE.search(text):
        raise InvalidConfig.single(field, "The JSON contains invalid Unicode (a lone surrogate).")
    # Depth is checked on the raw text first: the parser itself recurses and would blow the stack.
    if _bracket_depth(text) > MAX_DEPTH:
        raise InvalidConfig.single(field, f"The JSON is nested more than {MAX_DEPTH} levels deep.")
    try:
        value = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants, parse_float=_finite_float
        )
    except _Refused as exc:
        raise InvalidConfig.single(field, str(exc)) from None
    except json.JSONDecodeError as exc:
        raise InvalidConfig.single(
            field, f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    except ValueError:  # an integer beyond Python's int-string digit limit
        raise InvalidConfig.single(field, "The JSON contains a number that is too long.") from None
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a `\ud800` escape decodes to a lone surrogate nothing downstream can encode
        raise InvalidConfig.single(field, "The JSON contains invalid Unicode (a lone surrogate).") from None
    return value


class _Refused(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"The key `{key[:64]}` appears twice in one object.")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise _Refused(f"`{name}` is not allowed in JSON.")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _Refused(f"The number `{literal[:32]}` is too large.")
    return value


def _bracket_depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest
