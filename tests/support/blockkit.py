"""Offline Block Kit validation for tests (pure functions, no I/O).

Two layers, both reported as human-readable problem strings (empty list == valid):

1. slack_sdk's own model validation: ``View(**view).to_dict()`` / ``Block.parse(block).to_dict()``
   (raises ``SlackObjectFormationError``; unknown block types parse to ``None``, unknown elements are
   silently dropped to ``None`` inside lists -- both are reported here).
2. The limits slack_sdk 3.47 does not check (docs/reference slack.md §4): submit required with input
   blocks, section field length, plain_text_input min/max_length, option descriptions, checkbox/radio
   option count, file_input max_files (and only inside a modal input block), view payload size,
   message block count, duplicate block_id / action_id, message text length.

Problem strings look like ``"view.blocks[2] (input): label must be ..."``; the SDK's own message is kept
verbatim after the last ``": "`` so tests can match on it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any, Literal

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

Surface = Literal["message", "modal", "home"]

MAX_BLOCKS: dict[str, int] = {"message": 50, "modal": 100, "home": 100}
MODAL_TEXT_MAX = 24  # title / submit / close
PRIVATE_METADATA_MAX = 3000
VIEW_PAYLOAD_MAX_BYTES = 250_000  # Slack: "view_too_large" at ~250 KB; we use the stricter decimal reading
SECTION_FIELD_TEXT_MAX = 2000
PLAIN_TEXT_INPUT_LENGTH_MAX = 3000
OPTION_DESCRIPTION_MAX = 75
CHOICE_OPTIONS_MAX = 10  # checkboxes, radio_buttons
FILE_INPUT_MAX_FILES = 10
MESSAGE_TEXT_MAX = 40_000

# Exceptions the SDK model constructors can raise on malformed dicts besides SlackObjectFormationError.
_PARSE_ERRORS = (SlackObjectFormationError, TypeError, ValueError, KeyError, AttributeError)


def view_problems(view: dict[str, Any]) -> list[str]:
    """Everything Slack (or slack_sdk) would reject in a ``views.open/update/push/publish`` view."""
    if not isinstance(view, dict):
        return [f"view must be an object, got {type(view).__name__}"]
    problems: list[str] = []
    vtype = view.get("type")
    if vtype not in ("modal", "home"):
        problems.append(f"view: type must be 'modal' or 'home', got {vtype!r}")
    surface: Surface = "home" if vtype == "home" else "modal"

    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        problems.append("view: blocks is required and must be a list")
        blocks = []
    elif not blocks:
        problems.append(f"view: views must contain between 1 and {MAX_BLOCKS[surface]} blocks")
    problems.extend(_prefixed("view.", blocks_problems(blocks, surface=surface)))

    if vtype == "modal":
        if _text_of(view.get("title")) is None:
            problems.append("view: a modal requires a title")
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and _text_of(view.get("submit")) is None:
            problems.append("view: a modal with input blocks must define submit")
        for key in ("title", "submit", "close"):
            value = view.get(key)
            if value is not None and (not isinstance(value, dict) or value.get("type") != "plain_text"):
                problems.append(f"view: {key} must be a plain_text text object")
        for key, sdk_msg in (
            ("title", f"title must be between 1 and {MODAL_TEXT_MAX} characters"),
            ("submit", f"submit cannot exceed {MODAL_TEXT_MAX} characters"),
            ("close", f"close cannot exceed {MODAL_TEXT_MAX} characters"),
        ):
            text = _text_of(view.get(key))
            if text is not None and not 1 <= len(text) <= MODAL_TEXT_MAX:
                problems.append(f"view: {sdk_msg} ({key} has {len(text)})")
    elif vtype == "home" and (view.get("submit") is not None or view.get("close") is not None):
        problems.append("view: home view cannot have submit and close")

    metadata = view.get("private_metadata")
    if metadata is not None:
        if not isinstance(metadata, str):
            problems.append("view: private_metadata must be a string")
        elif len(metadata) > PRIVATE_METADATA_MAX:
            problems.append(
                f"view: private_metadata cannot exceed {PRIVATE_METADATA_MAX} characters (has {len(metadata)})"
            )

    try:
        size = len(json.dumps(view, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError) as exc:
        problems.append(f"view: not JSON-serialisable: {exc}")
    else:
        if size > VIEW_PAYLOAD_MAX_BYTES:
            problems.append(f"view: payload is {size} bytes; Slack rejects views over 250 KB (view_too_large)")

    sdk_error = _sdk_view_error(view)
    if sdk_error is not None and not any(p.endswith(": " + sdk_error) or sdk_error in p for p in problems):
        problems.append(f"view: {sdk_error}")
    return problems


def blocks_problems(blocks: list[dict[str, Any]], *, surface: str = "message") -> list[str]:
    """Problems in a block list for ``surface`` ("message" ≤ 50 blocks, "modal"/"home" ≤ 100)."""
    if surface not in MAX_BLOCKS:
        raise ValueError(f"unknown surface {surface!r}; expected one of {sorted(MAX_BLOCKS)}")
    if not isinstance(blocks, list):
        return [f"blocks must be a list, got {type(blocks).__name__}"]
    problems: list[str] = []
    limit = MAX_BLOCKS[surface]
    if len(blocks) > limit:
        if surface == "message":
            problems.append(f"blocks: a message can have at most {limit} blocks (has {len(blocks)})")
        else:
            problems.append(f"blocks: views must contain between 1 and {limit} blocks (has {len(blocks)})")
    for index, block in enumerate(blocks):
        where = f"blocks[{index}]"
        if not isinstance(block, dict):
            problems.append(f"{where}: block must be an object, got {type(block).__name__}")
            continue
        where = f"{where} ({block.get('type')})"
        problems.extend(_sdk_block_problems(block, where))
        problems.extend(_extra_block_problems(block, where, surface))
    problems.extend(_duplicate_block_ids(blocks))
    return problems


def message_problems(*, text: str | None = None, blocks: list[dict[str, Any]] | None = None) -> list[str]:
    """Problems in a message (chat.postMessage / chat.update / response_url body)."""
    problems: list[str] = []
    if text is not None:
        if not isinstance(text, str):
            problems.append(f"text must be a string, got {type(text).__name__}")
        elif len(text) > MESSAGE_TEXT_MAX:
            problems.append(f"text: longer than {MESSAGE_TEXT_MAX} characters (has {len(text)}); Slack truncates it")
    if blocks is not None:
        problems.extend(blocks_problems(blocks, surface="message"))
    return problems


# --------------------------------------------------------------------------------------------------------------
# SDK layer


def _sdk_view_error(view: dict[str, Any]) -> str | None:
    try:
        View(**view).to_dict()
    except _PARSE_ERRORS as exc:
        return str(exc) or type(exc).__name__
    return None


def _sdk_block_problems(block: dict[str, Any], where: str) -> list[str]:
    try:
        parsed = Block.parse(block)
    except _PARSE_ERRORS as exc:
        return [f"{where}: cannot be parsed by slack_sdk: {exc}"]
    if parsed is None:
        return [f"{where}: unknown block type {block.get('type')!r}"]
    try:
        as_dict = parsed.to_dict()
    except _PARSE_ERRORS as exc:
        return [f"{where}: {exc}"]
    return [
        f"{where}: unknown or malformed component dropped by slack_sdk at {path}" for path in _none_in_lists(as_dict)
    ]


def _none_in_lists(obj: Any, path: str = "") -> Iterator[str]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _none_in_lists(value, f"{path}.{key}" if path else str(key))
    elif isinstance(obj, list):
        for index, item in enumerate(obj):
            if item is None:
                yield f"{path}[{index}]"
            else:
                yield from _none_in_lists(item, f"{path}[{index}]")


# --------------------------------------------------------------------------------------------------------------
# Extra checks (what the SDK misses)


def _extra_block_problems(block: dict[str, Any], where: str, surface: str) -> list[str]:
    problems: list[str] = []
    nested = block.get("blocks")
    if isinstance(nested, list):  # container-style blocks: each nested block gets its own checks
        for i, child in enumerate(nested):
            if isinstance(child, dict):
                problems.extend(_extra_block_problems(child, f"{where}.blocks[{i}] ({child.get('type')})", surface))
    action_ids: list[str] = []
    for path, node, parent_type in _components(block):
        at = f"{where}{path}"
        ntype = node.get("type")
        if "action_id" in node and isinstance(node["action_id"], str):
            action_ids.append(node["action_id"])
        problems.extend(_text_slot_problems(node, at))
        if ntype == "section":
            fields = node.get("fields")
            if isinstance(fields, list):
                for i, field in enumerate(fields):
                    text = _text_of(field)
                    if text is not None and len(text) > SECTION_FIELD_TEXT_MAX:
                        problems.append(
                            f"{at}.fields[{i}]: field text cannot exceed {SECTION_FIELD_TEXT_MAX} characters "
                            f"(has {len(text)})"
                        )
        elif ntype == "plain_text_input":
            problems.extend(_plain_text_input_problems(node, at))
        elif ntype in ("checkboxes", "radio_buttons"):
            options = node.get("options")
            if isinstance(options, list) and len(options) > CHOICE_OPTIONS_MAX:
                problems.append(f"{at}: {ntype} can have at most {CHOICE_OPTIONS_MAX} options (has {len(options)})")
        elif ntype == "file_input":
            max_files = node.get("max_files")
            if max_files is not None and (not isinstance(max_files, int) or not 1 <= max_files <= FILE_INPUT_MAX_FILES):
                problems.append(f"{at}: file_input max_files must be 1-{FILE_INPUT_MAX_FILES} (got {max_files!r})")
            if surface != "modal" or parent_type != "input":
                problems.append(f"{at}: file_input is only allowed as the element of an input block in a modal")
        for key in ("options", "initial_options"):
            options = node.get(key)
            if isinstance(options, list):
                for i, option in enumerate(options):
                    problems.extend(_option_problems(option, f"{at}.{key}[{i}]"))
        if isinstance(node.get("initial_option"), dict):
            problems.extend(_option_problems(node["initial_option"], f"{at}.initial_option"))
    for action_id, count in Counter(action_ids).items():
        if count > 1:
            problems.append(f"{where}: duplicate action_id {action_id!r} ({count} times) within one block")
    return problems


# Slots that Slack requires to be text objects; slack_sdk quietly wraps a bare string instead.
_PLAIN_TEXT_SLOTS: dict[str, tuple[str, ...]] = {
    "header": ("text",),
    "input": ("label", "hint"),
    "button": ("text",),
}
_ANY_TEXT_SLOTS: dict[str, tuple[str, ...]] = {"section": ("text",)}


def _text_slot_problems(node: dict[str, Any], at: str) -> list[str]:
    problems: list[str] = []
    ntype = node.get("type")
    plain = (*_PLAIN_TEXT_SLOTS.get(str(ntype), ()), "placeholder")
    for key in (*plain, *_ANY_TEXT_SLOTS.get(str(ntype), ())):
        if key not in node or node[key] is None:
            continue
        value = node[key]
        if not isinstance(value, dict):
            problems.append(f"{at}.{key}: must be a text object, not {type(value).__name__}")
        elif key in plain and value.get("type") != "plain_text":
            problems.append(f"{at}.{key}: must be a plain_text text object (got {value.get('type')!r})")
    return problems


def _plain_text_input_problems(node: dict[str, Any], at: str) -> list[str]:
    problems: list[str] = []
    lo, hi = node.get("min_length"), node.get("max_length")
    if lo is not None and (not isinstance(lo, int) or not 0 <= lo <= PLAIN_TEXT_INPUT_LENGTH_MAX):
        problems.append(f"{at}: plain_text_input min_length must be 0-{PLAIN_TEXT_INPUT_LENGTH_MAX} (got {lo!r})")
    if hi is not None and (not isinstance(hi, int) or not 1 <= hi <= PLAIN_TEXT_INPUT_LENGTH_MAX):
        problems.append(f"{at}: plain_text_input max_length must be 1-{PLAIN_TEXT_INPUT_LENGTH_MAX} (got {hi!r})")
    if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
        problems.append(f"{at}: plain_text_input min_length ({lo}) is greater than max_length ({hi})")
    return problems


def _option_problems(option: Any, at: str) -> list[str]:
    if not isinstance(option, dict):
        return []
    description = _text_of(option.get("description"))
    if description is not None and len(description) > OPTION_DESCRIPTION_MAX:
        return [f"{at}: option description cannot exceed {OPTION_DESCRIPTION_MAX} characters (has {len(description)})"]
    return []


def _duplicate_block_ids(blocks: list[Any]) -> list[str]:
    ids = [b["block_id"] for b in _all_blocks(blocks) if isinstance(b.get("block_id"), str)]
    return [
        f"blocks: duplicate block_id {block_id!r} ({count} times)"
        for block_id, count in Counter(ids).items()
        if count > 1
    ]


def _all_blocks(blocks: list[Any]) -> Iterator[dict[str, Any]]:
    """Top-level blocks plus blocks nested in container-style blocks (``"blocks": [...]``)."""
    for block in blocks:
        if isinstance(block, dict):
            yield block
            nested = block.get("blocks")
            if isinstance(nested, list):
                yield from _all_blocks(nested)


def _components(block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str | None]]:
    """(path, dict, parent block type) for every object inside one block, not descending into nested blocks."""

    def walk(node: Any, path: str, parent_type: str | None) -> Iterator[tuple[str, dict[str, Any], str | None]]:
        if isinstance(node, dict):
            yield path, node, parent_type
            own_type = node.get("type") if isinstance(node.get("type"), str) else parent_type
            for key, value in node.items():
                if key == "blocks" and not path:  # nested blocks are checked as blocks of their own
                    continue
                yield from walk(value, f"{path}.{key}", own_type)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                yield from walk(item, f"{path}[{index}]", parent_type)

    yield from walk(block, "", None)


def _text_of(obj: Any) -> str | None:
    """Text of a text object (``{"type": "plain_text", "text": ...}``) or a bare string; None if absent."""
    if obj is None:
        return None
    if isinstance(obj, str):
        return obj
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        text: str = obj["text"]
        return text
    return None


def _prefixed(prefix: str, problems: list[str]) -> list[str]:
    return [p if p.startswith("view") else prefix + p for p in problems]
