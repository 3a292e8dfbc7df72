"""A tool's input schema becomes a valid Slack modal, and the submitted modal becomes the tool's arguments again,
checked against the schema with each problem on its own field."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.models.views import View

from app.slack.blocks.tool_form import (
    ALL_ARGUMENTS,
    FormInputError,
    arguments_from_state,
    form_fields,
    read_form,
    schema_digest,
    schema_errors,
    tool_form,
)
from tests.support.blockkit import view_problems
from tests.support.slack_payloads import _state_values, option_value, options_value, text_value

EVERY_KIND: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "description": "What to call it", "default": "hello"},
        "body": {"type": "string", "maxLength": 2000},
        "email": {"type": "string", "format": "email"},
        "site": {"type": "string", "format": "uri"},
        "day": {"type": "string", "format": "date", "default": "2026-12-24"},
        "when": {"type": "string", "format": "date-time"},
        "count": {"type": "integer", "minimum": 1, "maximum": 5, "default": 2},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1.5},
        "loud": {"type": "boolean", "default": True},
        "maybe": {"type": "boolean"},
        "color": {"enum": ["red", "green", "blue"], "default": "green"},
        "size": {"type": "integer", "oneOf": [{"const": 1, "title": "Small"}, {"const": 3, "title": "Large"}]},
        "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 2},
        "names": {"type": "array", "items": {"type": "string"}, "default": ["ann", "bob"]},
        "options": {"type": "object", "properties": {"deep": {"type": "boolean"}}},
        "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
    },
    "required": ["title", "count", "color", "loud"],
}


def form(schema: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return tool_form(schema, title="Run a_tool", callback_id="run_tool_form", private_metadata="{}", **kwargs)


def valid(view: dict[str, Any]) -> dict[str, Any]:
    """The view as slack_sdk and our own Block Kit checks accept it."""
    assert View(**view).to_dict()
    assert view_problems(view) == []
    return view


def element(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    found: dict[str, Any] = block["element"]
    return found


def block_of(name: str, schema: dict[str, Any] = EVERY_KIND) -> str:
    return next(f.block_id for f in form_fields(schema) if f.name == name)


def state(view: dict[str, Any], given: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Slack's `view.state.values` for a submission of `view`: the `given` values, every other field left empty."""
    return _state_values(view, {block: {"value": value} for block, value in given.items()})


def test_every_kind_of_field_renders_as_its_own_element_with_defaults_filled_in() -> None:
    view = valid(form(EVERY_KIND))
    kinds = {f.name: element(view, f.block_id)["type"] for f in form_fields(EVERY_KIND)}
    assert kinds == {
        "title": "plain_text_input",
        "body": "plain_text_input",
        "email": "email_text_input",
        "site": "url_text_input",
        "day": "datepicker",
        "when": "datetimepicker",
        "count": "number_input",
        "ratio": "number_input",
        "loud": "checkboxes",
        "maybe": "radio_buttons",
        "color": "static_select",
        "size": "static_select",
        "tags": "multi_static_select",
        "names": "plain_text_input",
        "options": "plain_text_input",
        "either": "plain_text_input",
        "matrix": "plain_text_input",
    }
    assert element(view, block_of("title"))["initial_value"] == "hello"
    assert element(view, block_of("body"))["multiline"] is True
    assert "multiline" not in element(view, block_of("title"))
    assert element(view, block_of("day"))["initial_date"] == "2026-12-24"
    count = element(view, block_of("count"))
    assert (count["min_value"], count["max_value"], count["initial_value"]) == ("1", "5", "2")
    assert count["is_decimal_allowed"] is False and element(view, block_of("ratio"))["is_decimal_allowed"] is True
    assert element(view, block_of("loud"))["initial_options"][0]["value"] == "0"
    assert element(view, block_of("color"))["initial_option"]["value"] == "1"  # an index, not the value
    assert [o["text"]["text"] for o in element(view, block_of("size"))["options"]] == ["Small", "Large"]
    assert element(view, block_of("tags"))["max_selected_items"] == 2
    assert element(view, block_of("names"))["initial_value"] == "ann\nbob"


def test_required_fields_are_marked_and_descriptions_become_hints() -> None:
    view = form(EVERY_KIND)
    blocks = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert blocks[block_of("title")]["optional"] is False
    assert blocks[block_of("count")]["optional"] is False
    assert blocks[block_of("body")]["optional"] is True
    assert blocks[block_of("title")]["hint"]["text"] == "What to call it"
    assert "JSON" in blocks[block_of("options")]["hint"]["text"]
    assert "One item per line" in blocks[block_of("names")]["hint"]["text"]
    assert blocks[block_of("title")]["label"]["text"] == "title"


def test_slack_limits_are_kept_whatever_the_schema_says() -> None:
    long_values = [f"value-{i}-" + "x" * 300 for i in range(100)]
    schema = {
        "type": "object",
        "title": "t",
        "properties": {
            "p" * 300: {"title": "L" * 5000, "description": "D" * 5000, "enum": long_values},
            "too_many": {"enum": list(range(101))},
        },
    }
    view = valid(tool_form(schema, title="Run " + "a" * 100, callback_id="c", private_metadata="{}"))
    assert len(view["title"]["text"]) <= 24
    select = element(view, "arg0")
    assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in select["options"])
    block = view["blocks"][0]
    assert len(block["label"]["text"]) <= 2000 and len(block["hint"]["text"]) <= 2000
    assert element(view, "arg1")["type"] == "plain_text_input"  # over 100 options: typed as JSON instead


def test_more_properties_than_a_modal_holds_become_one_json_field() -> None:
    schema = {
        "type": "object",
        "properties": {f"field_{i}": {"type": "string", "default": "d"} for i in range(120)},
        "required": ["field_0"],
    }
    view = valid(form(schema))
    assert [b["block_id"] for b in view["blocks"]] == [ALL_ARGUMENTS]
    state_values = state(view, {ALL_ARGUMENTS: text_value('{"field_0": "x", "field_7": "y"}')})
    assert read_form(schema, state_values) == {"field_0": "x", "field_7": "y"}
    with pytest.raises(FormInputError) as bad:
        read_form(schema, state(view, {ALL_ARGUMENTS: text_value('{"field_0": 5}')}))
    assert list(bad.value.errors) == [ALL_ARGUMENTS] and "is not of type 'string'" in bad.value.errors[ALL_ARGUMENTS]


def test_a_submitted_form_round_trips_to_typed_arguments() -> None:
    view = form(EVERY_KIND)
    submitted = state(
        view,
        {
            block_of("title"): text_value("hi"),
            block_of("email"): text_value("ann@example.com"),
            block_of("day"): {"selected_date": "2026-12-31"},
            block_of("when"): {"selected_date_time": 1_767_225_600},
            block_of("count"): text_value("4"),
            block_of("ratio"): text_value("0.25"),
            block_of("loud"): options_value([]),
            block_of("maybe"): option_value("1"),
            block_of("color"): option_value("2"),
            block_of("size"): option_value("1"),
            block_of("tags"): options_value(["0", "2"]),
            block_of("names"): text_value("ann\n\n  cy \n"),
            block_of("options"): text_value('{"deep": true}'),
            block_of("either"): text_value("7"),
        },
    )
    assert read_form(EVERY_KIND, submitted) == {
        "title": "hi",
        "email": "ann@example.com",
        "day": "2026-12-31",
        "when": "2026-01-01T00:00:00Z",
        "count": 4,
        "ratio": 0.25,
        "loud": False,  # unticked means false: the property has a default
        "maybe": False,
        "color": "blue",
        "size": 3,
        "tags": ["a", "c"],
        "names": ["ann", "cy"],
        "options": {"deep": True},
        "either": 7,
    }


def test_values_the_schema_refuses_are_reported_on_their_own_field() -> None:
    view = form(EVERY_KIND)
    submitted = state(
        view,
        {
            block_of("title"): text_value("hi"),
            block_of("count"): text_value("7"),
            block_of("color"): option_value("0"),
            block_of("options"): text_value('{"deep": "very"}'),
        },
    )
    with pytest.raises(FormInputError) as bad:
        read_form(EVERY_KIND, submitted)
    assert bad.value.errors == {
        block_of("count"): "7 is greater than the maximum of 5",
        block_of("options"): "deep: 'very' is not of type 'boolean'",
    }


def test_a_json_field_that_does_not_parse_says_so_on_that_field() -> None:
    view = form(EVERY_KIND)
    submitted = state(
        view,
        {
            block_of("title"): text_value("hi"),
            block_of("count"): text_value("2"),
            block_of("color"): option_value("0"),
            block_of("options"): text_value('{"deep": tru'),
            block_of("ratio"): text_value("lots"),
        },
    )
    with pytest.raises(FormInputError) as bad:
        arguments_from_state(EVERY_KIND, submitted)
    assert set(bad.value.errors) == {block_of("options"), block_of("ratio")}
    assert bad.value.errors[block_of("options")].startswith("Not valid JSON:")
    assert bad.value.errors[block_of("ratio")] == "Enter a number."


def test_a_missing_required_value_is_reported_on_that_field() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "required": ["b"]}
    assert schema_errors(schema, {"a": "x"}) == {"arg1": "This field is required."}


def test_a_tool_without_parameters_gets_a_form_that_only_says_so() -> None:
    view = valid(form({"type": "object", "properties": {}}))
    assert [b["type"] for b in view["blocks"]] == ["section"]
    assert read_form({"type": "object"}, {}) == {}


def test_the_digest_changes_when_the_schema_changes() -> None:
    changed = {**EVERY_KIND, "required": ["title"]}
    assert schema_digest(EVERY_KIND) == schema_digest(dict(EVERY_KIND)) != schema_digest(changed)


def test_an_elicitation_form_schema_renders_and_reads_back() -> None:
    requested = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "title": "Your name", "minLength": 2},
            "count": {"type": "integer", "default": 2},
            "plan": {"type": "string", "enum": ["free", "pro"], "enumNames": ["Free", "Pro"]},
        },
        "required": ["name"],
    }
    view = valid(form(requested, submit="Send"))
    assert element(view, "arg0")["min_length"] == 2
    assert [o["text"]["text"] for o in element(view, "arg2")["options"]] == ["Free", "Pro"]
    submitted = state(view, {"arg0": text_value("ann"), "arg1": text_value("3"), "arg2": option_value("1")})
    assert read_form(requested, submitted) == {"name": "ann", "count": 3, "plan": "pro"}


def test_optional_fields_written_the_pydantic_way_get_their_own_element_not_a_json_field() -> None:
    nullable = {
        "type": "object",
        "properties": {
            "notes": {"anyOf": [{"type": "string", "maxLength": 1000}, {"type": "null"}], "default": None},
            "email": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "format": "email"},
            "budget": {"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}], "default": None},
            "tags": {"anyOf": [{"type": "array", "items": {"enum": ["a", "b"]}}, {"type": "null"}], "default": None},
        },
    }
    view = valid(form(nullable))
    assert [element(view, f"arg{i}")["type"] for i in range(4)] == [
        "plain_text_input",
        "email_text_input",
        "number_input",
        "multi_static_select",
    ]
    assert element(view, "arg0")["multiline"] is True and "initial_value" not in element(view, "arg0")
    assert read_form(nullable, state(view, {"arg2": text_value("3")})) == {"budget": 3}
