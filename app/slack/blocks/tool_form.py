"""A modal built from a JSON Schema (a tool's `inputSchema`, or an MCP elicitation's flat form schema), and the way
back: the submitted state as arguments, checked against the schema with errors keyed by the field's block.

Pure functions over dicts. One `input` block per property, `block_id` `arg{i}` for the i-th property in the
schema's own order: property names can be long or odd, and the schema (looked up again on submission) is the map
back, so nothing about the fields travels in `private_metadata`. Select options carry the index of the enum value
(values may be longer than Slack's 150 characters, or not strings). What no element fits (objects, nested arrays,
`anyOf`…) is a JSON text field. A schema with too many properties for one modal gets one JSON text field for all
the arguments. Slack's limits (labels, hints, placeholders, option text, option count, title) are applied here,
since slack_sdk does not check them all for dict options.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from app.slack.text import clean, truncate

# Slack's limits (docs.slack.dev block elements; slack_sdk 3.47 models)
TITLE_MAX = 24
LABEL_MAX = 2000
HINT_MAX = 2000
PLACEHOLDER_MAX = 150
OPTION_TEXT_MAX = 75
OPTIONS_MAX = 100
TEXT_INPUT_MAX = 3000
MODAL_BLOCKS_MAX = 100
# A view over ~250 KB is refused (`view_too_large`); stay well below.
VIEW_CHARS_MAX = 150_000
ERROR_MAX = 300
SINGLE_LINE_MAX = 150  # a longer string (by maxLength or default) gets a multi-line box

ALL_ARGUMENTS = "args"  # block_id of the single JSON field used when the fields do not fit
VALUE = "value"  # the action_id of every element

Kind = Literal[
    "text", "email", "url", "date", "datetime", "number", "integer", "boolean", "yes_no", "enum", "multi_enum", "lines",
    "json",
]  # fmt: skip


@dataclass(frozen=True)
class FormField:
    block_id: str
    name: str
    schema: Mapping[str, Any]
    kind: Kind
    required: bool
    choices: tuple[tuple[Any, str], ...] = ()  # (value, shown text) for enums, by index


class FormInputError(Exception):
    """Submitted values that cannot become arguments, or arguments the schema refuses: block_id -> message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


# -- schema reading -------------------------------------------------------------------------------------------


def _properties(schema: Mapping[str, Any]) -> dict[str, Any]:
    props = schema.get("properties")
    return dict(props) if isinstance(props, Mapping) else {}


def _required(schema: Mapping[str, Any]) -> set[str]:
    required = schema.get("required")
    return {r for r in required if isinstance(r, str)} if isinstance(required, list) else set()


def _single_type(prop: Mapping[str, Any]) -> str | None:
    """The one JSON type of a property (`["string", "null"]` counts as string), else None."""
    kind = prop.get("type")
    if isinstance(kind, str):
        return kind
    if isinstance(kind, list):
        named = [k for k in kind if k != "null"]
        if len(named) == 1 and isinstance(named[0], str):
            return named[0]
    return None


def _option_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _choices(prop: Mapping[str, Any]) -> tuple[tuple[Any, str], ...] | None:
    """Enum values with their shown text: `enum` (+ legacy `enumNames`), or `oneOf`/`anyOf` of `{const, title}`."""
    enum = prop.get("enum")
    if isinstance(enum, list) and enum:
        names = prop.get("enumNames")
        if isinstance(names, list) and len(names) == len(enum) and all(isinstance(n, str) for n in names):
            return tuple(zip(enum, names, strict=True))
        return tuple((v, _option_text(v)) for v in enum)
    for key in ("oneOf", "anyOf"):
        options = prop.get(key)
        if isinstance(options, list) and options and all(isinstance(o, Mapping) and "const" in o for o in options):
            return tuple((o["const"], str(o.get("title") or _option_text(o["const"]))) for o in options)
    return None


def _kind(prop: Mapping[str, Any], required: bool) -> tuple[Kind, tuple[tuple[Any, str], ...]]:
    choices = _choices(prop)
    if choices is not None:
        return ("enum", choices) if len(choices) <= OPTIONS_MAX else ("json", ())
    kind = _single_type(prop)
    if kind == "string":
        fmt = prop.get("format")
        named: dict[Any, Kind] = {"email": "email", "uri": "url", "url": "url", "date": "date", "date-time": "datetime"}
        return named.get(fmt, "text"), ()
    if kind in ("integer", "number"):
        return kind, ()  # type: ignore[return-value]  # narrowed by the test above
    if kind == "boolean":
        # Unticked must mean "false" only where false is an answer the person gave: optional without a default gets
        # Yes / No, so that leaving it alone sends nothing.
        return ("boolean" if required or "default" in prop else "yes_no"), ()
    if kind == "array":
        items = prop.get("items")
        if isinstance(items, Mapping):
            item_choices = _choices(items)
            if item_choices is not None and len(item_choices) <= OPTIONS_MAX:
                return "multi_enum", item_choices
            if item_choices is None and _single_type(items) == "string" and not items.get("format"):
                return "lines", ()
    return "json", ()


def _without_null(prop: Mapping[str, Any]) -> Mapping[str, Any]:
    """`anyOf: [X, {"type": "null"}]` (how pydantic writes an optional field) shown as X; a null default as none."""
    merged = dict(prop)
    for key in ("anyOf", "oneOf"):
        options = prop.get(key)
        if not isinstance(options, list):
            continue
        named = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
        if len(named) == 1 and len(options) == 2 and isinstance(named[0], Mapping):
            del merged[key]
            merged = {**named[0], **merged}
    if merged.get("default", 0) is None:
        del merged["default"]
    return merged


def form_fields(schema: Mapping[str, Any]) -> list[FormField]:
    """One field per property, in the schema's order."""
    required = _required(schema)
    fields: list[FormField] = []
    for index, (name, prop) in enumerate(_properties(schema).items()):
        prop = _without_null(prop) if isinstance(prop, Mapping) else {}
        kind, choices = _kind(prop, name in required)
        fields.append(FormField(f"arg{index}", str(name), prop, kind, name in required, choices))
    return fields


def schema_digest(schema: Mapping[str, Any]) -> str:
    """Names one version of a schema: a form is read back only against the schema it was built from."""
    return hashlib.sha256(json.dumps(schema, sort_keys=True, default=str).encode()).hexdigest()[:16]


# -- building -------------------------------------------------------------------------------------------------


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(clean(text), limit) or " "}


def _label(field: FormField) -> str:
    title = field.schema.get("title")
    return str(title) if isinstance(title, str) and title.strip() else field.name


def _hint(field: FormField) -> str:
    description = field.schema.get("description")
    parts = [" ".join(clean(description).split())] if isinstance(description, str) and description.strip() else []
    if field.kind == "lines":
        parts.append("One item per line.")
    elif field.kind == "json":
        parts.append(f"A JSON value{_json_shape(field.schema)}.")
    return " ".join(parts)


def _json_shape(prop: Mapping[str, Any]) -> str:
    kind = _single_type(prop)
    return {"object": ' (an object, e.g. {"key": "value"})', "array": ' (a list, e.g. ["a", "b"])'}.get(kind or "", "")


def _option(index: int, text: str) -> dict[str, Any]:
    return {"text": _plain(text, OPTION_TEXT_MAX), "value": str(index)}


def _index_of(choices: tuple[tuple[Any, str], ...], value: Any) -> int | None:
    for index, (candidate, _) in enumerate(choices):
        if candidate == value and type(candidate) is type(value):
            return index
    return None


def _length(prop: Mapping[str, Any], key: str, low: int) -> int | None:
    value = prop.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= TEXT_INPUT_MAX:
        return value
    return None


def _number_text(value: Any, integer: bool) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if integer:
        return str(int(value)) if float(value).is_integer() else None
    return repr(value) if isinstance(value, float) else str(value)


def _element(field: FormField) -> dict[str, Any]:
    prop, default = field.schema, field.schema.get("default")
    element: dict[str, Any]
    if field.kind in ("text", "email", "url"):
        element_type = {"text": "plain_text_input", "email": "email_text_input", "url": "url_text_input"}[field.kind]
        element = {"type": element_type}
        if isinstance(default, str) and len(default) <= TEXT_INPUT_MAX:
            element["initial_value"] = default
        if field.kind == "text":
            low, high = _length(prop, "minLength", 0), _length(prop, "maxLength", 1)
            if low is not None and (high is None or low <= high):
                element["min_length"] = low
            if high is not None:
                element["max_length"] = high
            max_length = prop.get("maxLength")
            longest = max(
                max_length if isinstance(max_length, int) else 0, len(default) if isinstance(default, str) else 0
            )
            if longest > SINGLE_LINE_MAX:
                element["multiline"] = True
    elif field.kind == "date":
        element = {"type": "datepicker"}
        if isinstance(default, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", default):
            element["initial_date"] = default
    elif field.kind == "datetime":
        element = {"type": "datetimepicker"}
        if isinstance(default, str) and (moment := _parse_datetime(default)) is not None:
            element["initial_date_time"] = moment
    elif field.kind in ("integer", "number"):
        integer = field.kind == "integer"
        element = {"type": "number_input", "is_decimal_allowed": not integer}
        smallest, largest = _number_text(prop.get("minimum"), integer), _number_text(prop.get("maximum"), integer)
        if smallest is not None:
            element["min_value"] = smallest
        if largest is not None:
            element["max_value"] = largest
        initial = _number_text(default, integer)
        if initial is not None and _within(default, prop):
            element["initial_value"] = initial
    elif field.kind == "boolean":
        element = {"type": "checkboxes", "options": [_option(0, "Yes")]}
        if default is True:
            element["initial_options"] = [_option(0, "Yes")]
    elif field.kind == "yes_no":
        element = {"type": "radio_buttons", "options": [_option(0, "Yes"), _option(1, "No")]}
    elif field.kind == "enum":
        options = [_option(i, text) for i, (_, text) in enumerate(field.choices)]
        element = {"type": "static_select", "options": options}
        if (index := _index_of(field.choices, default)) is not None:
            element["initial_option"] = options[index]
    elif field.kind == "multi_enum":
        options = [_option(i, text) for i, (_, text) in enumerate(field.choices)]
        element = {"type": "multi_static_select", "options": options}
        max_items = prop.get("maxItems")
        if isinstance(max_items, int) and not isinstance(max_items, bool) and max_items >= 1:
            element["max_selected_items"] = max_items
        if isinstance(default, list):
            chosen = [i for v in default if (i := _index_of(field.choices, v)) is not None]
            if chosen:
                element["initial_options"] = [options[i] for i in dict.fromkeys(chosen)]
    elif field.kind == "lines":
        element = {"type": "plain_text_input", "multiline": True, "placeholder": _plain("One per line", 150)}
        if isinstance(default, list) and all(isinstance(v, str) and "\n" not in v for v in default):
            text = "\n".join(default)
            if len(text) <= TEXT_INPUT_MAX:
                element["initial_value"] = text
    else:
        element = {"type": "plain_text_input", "multiline": True, "placeholder": _plain("JSON", PLACEHOLDER_MAX)}
        if "default" in field.schema:
            text = json.dumps(default, indent=2, ensure_ascii=False)
            if len(text) <= TEXT_INPUT_MAX:
                element["initial_value"] = text
    element["action_id"] = VALUE
    return element


def _within(value: Any, prop: Mapping[str, Any]) -> bool:
    low, high = prop.get("minimum"), prop.get("maximum")
    if isinstance(low, int | float) and not isinstance(low, bool) and value < low:
        return False
    return not (isinstance(high, int | float) and not isinstance(high, bool) and value > high)


def _parse_datetime(text: str) -> int | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _input_block(field: FormField) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": field.block_id,
        "label": _plain(_label(field), LABEL_MAX),
        "element": _element(field),
        # A ticked-or-not box always has an answer; Slack would otherwise demand a tick.
        "optional": not field.required or field.kind == "boolean",
    }
    if hint := _hint(field):
        block["hint"] = _plain(hint, HINT_MAX)
    return block


def _all_arguments_block(schema: Mapping[str, Any]) -> dict[str, Any]:
    properties = _properties(schema).items()
    defaults = {
        name: prop["default"]
        for name, prop in properties
        if isinstance(prop, Mapping) and prop.get("default") is not None
    }
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": VALUE,
        "multiline": True,
        "placeholder": _plain('{"name": "value"}', PLACEHOLDER_MAX),
    }
    text = json.dumps(defaults, indent=2, ensure_ascii=False)
    if defaults and len(text) <= TEXT_INPUT_MAX:
        element["initial_value"] = text
    names = ", ".join(_properties(schema))
    return {
        "type": "input",
        "block_id": ALL_ARGUMENTS,
        "label": _plain("Arguments (JSON)", LABEL_MAX),
        "element": element,
        "optional": not _required(schema),
        "hint": _plain(f"All arguments as one JSON object. Fields: {names}", HINT_MAX),
    }


def tool_form(
    schema: Mapping[str, Any],
    *,
    title: str,
    callback_id: str,
    private_metadata: str,
    intro: list[dict[str, Any]] | None = None,
    submit: str = "Run",
) -> dict[str, Any]:
    """The modal for `schema`: `intro` blocks first (what is being run or asked), then one input per property, or
    one JSON field for all of them when they would not fit (more than 100 blocks, or too large a view)."""
    head = list(intro or [])
    fields = form_fields(schema)
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title, TITLE_MAX),
        "submit": _plain(submit, TITLE_MAX),
        "close": _plain("Cancel", TITLE_MAX),
        "private_metadata": private_metadata,
    }
    if not fields:
        view["blocks"] = [*head, _section("This takes no input.")]
        return view
    blocks = [*head, *(_input_block(f) for f in fields)]
    if len(blocks) > MODAL_BLOCKS_MAX or len(json.dumps(blocks)) > VIEW_CHARS_MAX:
        blocks = [*head, _all_arguments_block(schema)]
    view["blocks"] = blocks
    return view


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}


def uses_one_json_field(view: Mapping[str, Any]) -> bool:
    return any(b.get("block_id") == ALL_ARGUMENTS for b in view.get("blocks") or [])


# -- reading back ---------------------------------------------------------------------------------------------


def _state_of(state_values: Mapping[str, Any], block_id: str) -> Mapping[str, Any]:
    block = state_values.get(block_id)
    if not isinstance(block, Mapping):
        return {}
    value = block.get(VALUE)
    return value if isinstance(value, Mapping) else {}


def _selected_indexes(state: Mapping[str, Any], many: bool) -> list[int]:
    chosen = state.get("selected_options") if many else [state.get("selected_option")]
    return [
        int(option["value"])
        for option in chosen or []
        if isinstance(option, Mapping) and str(option.get("value", "")).isdigit()
    ]


def _read_field(field: FormField, state: Mapping[str, Any]) -> tuple[bool, Any]:
    """(present, value) for one field; raises ValueError with the message to show on the field."""
    if field.kind == "boolean":
        ticked = bool(_selected_indexes(state, True))
        return (True, ticked) if ticked or field.required or "default" in field.schema else (False, None)
    if field.kind in ("yes_no", "enum"):
        indexes = _selected_indexes(state, False)
        if not indexes:
            return False, None
        if field.kind == "yes_no":
            return True, indexes[0] == 0
        if indexes[0] >= len(field.choices):
            raise ValueError("Pick one of the listed options.")
        return True, field.choices[indexes[0]][0]
    if field.kind == "multi_enum":
        indexes = [i for i in _selected_indexes(state, True) if i < len(field.choices)]
        return (True, [field.choices[i][0] for i in indexes]) if indexes or field.required else (False, None)
    if field.kind == "date":
        selected = state.get("selected_date")
        return (True, selected) if isinstance(selected, str) and selected else (False, None)
    if field.kind == "datetime":
        selected = state.get("selected_date_time")
        if not isinstance(selected, int | float) or isinstance(selected, bool):
            return False, None
        moment = datetime.fromtimestamp(selected, UTC)
        return True, moment.isoformat().replace("+00:00", "Z")
    raw = state.get("value")
    if not isinstance(raw, str) or raw == "":
        return False, None
    if field.kind in ("integer", "number"):
        return True, _number(raw.strip(), field.kind == "integer")
    if field.kind == "lines":
        return True, [line.strip() for line in raw.splitlines() if line.strip()]
    if field.kind == "json":
        try:
            return True, json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
    return True, raw


def _number(text: str, integer: bool) -> int | float:
    try:
        if integer:
            return int(text)
        value = float(text)
    except ValueError:
        raise ValueError("Enter a whole number." if integer else "Enter a number.") from None
    if not math.isfinite(value):
        raise ValueError("Enter a number.")
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def arguments_from_state(schema: Mapping[str, Any], state_values: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments a submitted form holds (`view.state.values`): numbers cast, JSON parsed, options mapped back
    to their values, empty fields left out. Raises `FormInputError` for values that cannot be read at all."""
    if ALL_ARGUMENTS in state_values:
        raw = _state_of(state_values, ALL_ARGUMENTS).get("value")
        if not isinstance(raw, str) or not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise FormInputError(
                {ALL_ARGUMENTS: f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."}
            ) from None
        if not isinstance(value, dict):
            raise FormInputError({ALL_ARGUMENTS: 'The arguments must be a JSON object, e.g. {"name": "value"}.'})
        return value
    arguments: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in form_fields(schema):
        try:
            present, value = _read_field(field, _state_of(state_values, field.block_id))
        except ValueError as exc:
            errors[field.block_id] = str(exc)
            continue
        if present:
            arguments[field.name] = value
    if errors:
        raise FormInputError(errors)
    return arguments


def _error_text(error: ValidationError, nested_path: list[Any]) -> str:
    where = "/".join(str(p) for p in nested_path)
    message = truncate(" ".join(str(error.message).split()), ERROR_MAX - len(where) - 5)
    return f"{where}: {message}" if where else message


def schema_errors(
    schema: Mapping[str, Any], arguments: Mapping[str, Any], *, one_field: bool = False
) -> dict[str, str]:
    """What `schema` finds wrong with `arguments` (`jsonschema` Draft 2020-12), keyed by the block to show it on:
    the property's block, or the single JSON field's (`one_field`)."""
    fields = {f.name: f.block_id for f in form_fields(schema)}
    fallback = ALL_ARGUMENTS if one_field or not fields else next(iter(fields.values()))
    try:
        validator = Draft202012Validator(dict(schema), format_checker=Draft202012Validator.FORMAT_CHECKER)
        found = sorted(validator.iter_errors(dict(arguments)), key=lambda e: [str(p) for p in e.absolute_path])
    except Exception as exc:  # boundary: a server's schema can be broken in ways jsonschema refuses to use
        return {fallback: truncate(f"This tool's input schema cannot be checked: {exc}", ERROR_MAX)}
    errors: dict[str, str] = {}
    for error in found:
        path = list(error.absolute_path)
        if path and str(path[0]) in fields and not one_field:
            block, text = fields[str(path[0])], _error_text(error, path[1:])
        elif not path and error.validator == "required" and not one_field:
            missing = [n for n in error.validator_value if n not in arguments and n in fields]
            block = fields[missing[0]] if missing else fallback
            text = "This field is required." if missing else _error_text(error, [])
        else:
            block, text = fallback, _error_text(error, path)
        if block in errors:
            if text not in errors[block] and len(errors[block]) + len(text) < ERROR_MAX:
                errors[block] += f" {text}"
            continue
        errors[block] = text
    return errors


def read_form(schema: Mapping[str, Any], state_values: Mapping[str, Any]) -> dict[str, Any]:
    """Submitted state → arguments that satisfy `schema`, or `FormInputError` keyed by block_id."""
    arguments = arguments_from_state(schema, state_values)
    errors = schema_errors(schema, arguments, one_field=ALL_ARGUMENTS in state_values)
    if errors:
        raise FormInputError(errors)
    return arguments
