"""The offline Block Kit validator used by tests and by FakeSlack."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support.blockkit import blocks_problems, message_problems, view_problems

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pt(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def text_input(block_id: str = "name", action_id: str = "value", **element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": pt("Name"),
        "element": {"type": "plain_text_input", "action_id": action_id, **element},
    }


def modal(*blocks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "add_server",
        "title": pt("Add server"),
        "submit": pt("Save"),
        "close": pt("Cancel"),
        "blocks": list(blocks) or [text_input()],
    }
    view.update(extra)
    return view


def section(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def test_a_well_formed_modal_has_no_problems() -> None:
    view = modal(
        section("*Servers*", accessory={"type": "button", "text": pt("Add"), "action_id": "add"}),
        text_input(min_length=0, max_length=3000),
        {"type": "actions", "elements": [{"type": "button", "text": pt("Go"), "action_id": "go", "value": "1"}]},
    )
    assert view_problems(view) == []


def test_a_well_formed_home_tab_has_no_problems() -> None:
    assert view_problems({"type": "home", "blocks": [section(), {"type": "divider"}]}) == []


def test_modal_with_input_but_no_submit_is_rejected() -> None:
    view = modal()
    del view["submit"]
    assert view_problems(view) == ["view: a modal with input blocks must define submit"]


def test_modal_without_inputs_may_omit_submit() -> None:
    view = modal(section())
    del view["submit"]
    assert view_problems(view) == []


def test_modal_without_a_title_is_rejected() -> None:
    view = modal()
    del view["title"]
    assert any("requires a title" in p for p in view_problems(view))


def test_modal_title_submit_and_close_over_24_chars_are_all_reported() -> None:
    view = modal(title=pt("t" * 25), submit=pt("s" * 25), close=pt("c" * 25))
    problems = view_problems(view)
    assert len(problems) == 3
    assert any(p.startswith("view: title must be between 1 and 24 characters") for p in problems)
    assert any(p.startswith("view: submit cannot exceed 24 characters") for p in problems)
    assert any(p.startswith("view: close cannot exceed 24 characters") for p in problems)


def test_modal_title_of_exactly_24_chars_is_fine() -> None:
    assert view_problems(modal(title=pt("t" * 24), submit=pt("s" * 24))) == []


def test_modal_title_must_be_a_plain_text_object() -> None:
    assert view_problems(modal(title="Add server")) == ["view: title must be a plain_text text object"]


def test_sdk_validation_errors_are_reported_with_the_sdk_message() -> None:
    button = {"type": "button", "text": pt("x" * 76), "action_id": "b"}
    problems = blocks_problems([section(accessory=button)])
    assert len(problems) == 1
    assert problems[0].startswith("blocks[0] (section): ")
    assert "75" in problems[0]


def test_unknown_block_type_is_a_problem() -> None:
    assert blocks_problems([{"type": "fancy_box"}]) == ["blocks[0] (fancy_box): unknown block type 'fancy_box'"]


def test_unknown_element_type_is_a_problem() -> None:
    problems = blocks_problems([{"type": "actions", "elements": [{"type": "slider", "action_id": "s"}]}])
    assert problems == ["blocks[0] (actions): unknown or malformed component dropped by slack_sdk at elements[0]"]


def test_block_missing_a_required_part_is_a_problem() -> None:
    problems = blocks_problems([{"type": "input", "label": pt("x")}])
    assert len(problems) == 1
    assert "element" in problems[0]


def test_message_allows_fifty_blocks_and_refuses_fifty_one() -> None:
    assert blocks_problems([{"type": "divider"}] * 50) == []
    assert blocks_problems([{"type": "divider"}] * 51) == ["blocks: a message can have at most 50 blocks (has 51)"]


@pytest.mark.parametrize("surface", ["modal", "home"])
def test_views_allow_a_hundred_blocks_and_refuse_a_hundred_and_one(surface: str) -> None:
    assert blocks_problems([{"type": "divider"}] * 100, surface=surface) == []
    assert len(blocks_problems([{"type": "divider"}] * 101, surface=surface)) == 1
    too_many = {"type": "home", "blocks": [{"type": "divider"}] * 101}
    assert view_problems(too_many) == ["view.blocks: views must contain between 1 and 100 blocks (has 101)"]


def test_view_without_blocks_is_rejected() -> None:
    assert view_problems({"type": "home", "blocks": []}) == ["view: views must contain between 1 and 100 blocks"]


def test_unknown_surface_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="surface"):
        blocks_problems([], surface="email")


def test_section_field_longer_than_2000_chars_is_rejected() -> None:
    fields = [{"type": "mrkdwn", "text": "a" * 2000}, {"type": "mrkdwn", "text": "b" * 2001}]
    assert blocks_problems([{"type": "section", "fields": fields}]) == [
        "blocks[0] (section).fields[1]: field text cannot exceed 2000 characters (has 2001)"
    ]


@pytest.mark.parametrize(
    ("lengths", "ok"),
    [
        ({"min_length": 0, "max_length": 1}, True),
        ({"min_length": 3000, "max_length": 3000}, True),
        ({"min_length": -1}, False),
        ({"min_length": 3001}, False),
        ({"max_length": 0}, False),
        ({"max_length": 3001}, False),
        ({"min_length": 10, "max_length": 5}, False),
    ],
)
def test_plain_text_input_lengths_must_stay_within_slack_limits(lengths: dict[str, Any], ok: bool) -> None:
    problems = view_problems(modal(text_input(**lengths)))
    assert (problems == []) is ok, problems


def test_option_description_longer_than_75_chars_is_rejected() -> None:
    options = [{"text": pt("A"), "value": "a", "description": pt("d" * 76)}]
    block = {
        "type": "input",
        "block_id": "pick",
        "label": pt("Pick"),
        "element": {"type": "radio_buttons", "action_id": "v", "options": options},
    }
    assert view_problems(modal(block)) == [
        "view.blocks[0] (input).element.options[0]: option description cannot exceed 75 characters (has 76)"
    ]


@pytest.mark.parametrize("element_type", ["checkboxes", "radio_buttons"])
def test_checkboxes_and_radio_buttons_allow_at_most_ten_options(element_type: str) -> None:
    def block(n: int) -> dict[str, Any]:
        options = [{"text": pt(f"Option {i}"), "value": str(i)} for i in range(n)]
        element = {"type": element_type, "action_id": "v", "options": options}
        return {"type": "input", "block_id": "pick", "label": pt("Pick"), "element": element}

    assert view_problems(modal(block(10))) == []
    problems = view_problems(modal(block(11)))
    assert problems == [f"view.blocks[0] (input).element: {element_type} can have at most 10 options (has 11)"]


def file_input_block(**element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": "file",
        "label": pt("Config file"),
        "element": {"type": "file_input", "action_id": "v", "filetypes": ["json"], **element},
    }


@pytest.mark.parametrize(("max_files", "ok"), [(1, True), (10, True), (0, False), (11, False)])
def test_file_input_max_files_must_be_between_one_and_ten(max_files: int, ok: bool) -> None:
    problems = view_problems(modal(file_input_block(max_files=max_files)))
    assert (problems == []) is ok, problems


def test_file_input_outside_a_modal_is_rejected() -> None:
    problems = blocks_problems([file_input_block()], surface="message")
    assert problems == [
        "blocks[0] (input).element: file_input is only allowed as the element of an input block in a modal"
    ]


def test_private_metadata_over_3000_chars_is_rejected() -> None:
    assert view_problems(modal(private_metadata="x" * 3000)) == []
    assert view_problems(modal(private_metadata="x" * 3001)) == [
        "view: private_metadata cannot exceed 3000 characters (has 3001)"
    ]


def test_view_payload_over_250_kb_is_rejected() -> None:
    big = {"type": "home", "blocks": [section("x" * 2990) for _ in range(90)]}
    problems = view_problems(big)
    assert len(problems) == 1
    assert "view_too_large" in problems[0]


def test_duplicate_block_id_in_a_view_is_rejected() -> None:
    problems = view_problems(modal(text_input("same", "a"), text_input("same", "b")))
    assert problems == ["view.blocks: duplicate block_id 'same' (2 times)"]


def test_duplicate_action_id_within_one_block_is_rejected() -> None:
    buttons = [
        {"type": "button", "text": pt("A"), "action_id": "go"},
        {"type": "button", "text": pt("B"), "action_id": "go"},
    ]
    assert blocks_problems([{"type": "actions", "block_id": "row", "elements": buttons}]) == [
        "blocks[0] (actions): duplicate action_id 'go' (2 times) within one block"
    ]


def test_same_action_id_in_different_blocks_is_fine() -> None:
    button = {"type": "button", "text": pt("Enable"), "action_id": "enable"}
    blocks = [section("one", accessory=button), section("two", accessory=button)]
    assert blocks_problems(blocks) == []


def test_message_text_longer_than_40000_chars_is_a_problem() -> None:
    assert message_problems(text="x" * 40_000) == []
    assert message_problems(text="x" * 40_001) == ["text: longer than 40000 characters (has 40001); Slack truncates it"]


def test_message_problems_include_block_problems() -> None:
    assert message_problems(text="hi", blocks=[{"type": "nope"}]) == ["blocks[0] (nope): unknown block type 'nope'"]


def test_bare_string_where_slack_wants_a_text_object_is_rejected() -> None:
    assert blocks_problems([{"type": "section", "text": "hello"}]) == [
        "blocks[0] (section).text: must be a text object, not str"
    ]


def test_input_label_must_be_plain_text() -> None:
    block = text_input()
    block["label"] = {"type": "mrkdwn", "text": "*Name*"}
    assert view_problems(modal(block)) == [
        "view.blocks[0] (input).label: must be a plain_text text object (got 'mrkdwn')"
    ]


def test_home_view_with_submit_is_rejected() -> None:
    view = {"type": "home", "submit": pt("Save"), "blocks": [section()]}
    assert view_problems(view) == ["view: home view cannot have submit and close"]


def test_view_of_unknown_type_is_rejected() -> None:
    problems = view_problems({"type": "dialog", "blocks": [section()]})
    assert problems[0] == "view: type must be 'modal' or 'home', got 'dialog'"


def test_validation_does_not_change_the_view() -> None:
    view = modal(section(), file_input_block(max_files=1))
    before = copy.deepcopy(view)
    view_problems(view)
    assert view == before
