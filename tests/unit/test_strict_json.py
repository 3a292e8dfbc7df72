"""Strict JSON: what Python's json module silently accepts is refused, with a message a person can act on."""

from __future__ import annotations

import sys

import pytest

from app.domain.errors import InvalidConfig
from app.domain.strict_json import MAX_DEPTH, MAX_JSON_BYTES, loads_strict


def refusal(text: str, **kwargs: object) -> str:
    with pytest.raises(InvalidConfig) as caught:
        loads_strict(text, **kwargs)  # type: ignore[arg-type]
    return caught.value.problems["json" if "field" not in kwargs else str(kwargs["field"])]


def test_ordinary_json_parses() -> None:
    assert loads_strict('{"a": [1, 2.5, "x", true, null], "b": {"c": -3}}') == {
        "a": [1, 2.5, "x", True, None],
        "b": {"c": -3},
    }


def test_a_duplicate_key_is_refused_instead_of_silently_keeping_the_last() -> None:
    assert refusal('{"command": "safe", "command": "evil"}') == "The key `command` appears twice in one object."


def test_a_duplicate_key_in_a_nested_object_is_refused() -> None:
    assert "appears twice" in refusal('{"s": {"env": {"A": "1", "A": "2"}}}')


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(constant: str) -> None:
    assert refusal(f'{{"x": {constant}}}') == f"`{constant}` is not allowed in JSON."


@pytest.mark.parametrize("literal", ["1e400", "-1e400"])
def test_a_float_that_overflows_to_infinity_is_refused(literal: str) -> None:
    assert "too large" in refusal(f'{{"x": {literal}}}')


def test_an_integer_with_thousands_of_digits_is_refused_as_invalid_config_not_a_crash() -> None:
    assert "too long" in refusal('{"x": ' + "9" * 5000 + "}")


def test_a_hundred_thousand_digit_integer_is_refused_by_the_size_cap() -> None:
    assert "larger than 64 KB" in refusal("9" * 100_000)


def test_a_document_larger_than_64_kb_is_refused_before_parsing() -> None:
    at_limit = '"' + "a" * (MAX_JSON_BYTES - 2) + '"'
    assert loads_strict(at_limit) == "a" * (MAX_JSON_BYTES - 2)
    assert refusal('"' + "a" * (MAX_JSON_BYTES - 1) + '"') == "The JSON is larger than 64 KB."


def test_the_size_cap_counts_bytes_not_characters() -> None:
    assert "larger than" in refusal('"' + "é" * (MAX_JSON_BYTES // 2) + '"')


def test_a_caller_can_choose_a_smaller_cap_and_field() -> None:
    assert refusal('{"a": "' + "x" * 100 + '"}', max_bytes=64, field="arguments") == "The JSON is larger than 0 KB."


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_a_hundred_thousand_deep_nesting_is_refused_without_recursion_error(opener: str) -> None:
    limit = sys.getrecursionlimit()
    text = opener * 100_000
    # Under the byte cap too, so the depth check is what refuses it.
    small = opener * (MAX_JSON_BYTES // len(opener) - 1)
    for document in (text, small):
        message = refusal(document)
        assert "larger than" in message or f"nested more than {MAX_DEPTH} levels" in message
    assert f"nested more than {MAX_DEPTH} levels" in refusal(small)
    assert sys.getrecursionlimit() == limit


def test_nesting_up_to_the_limit_is_fine_and_one_more_is_refused() -> None:
    ok = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads_strict(ok) is not None
    deeper = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    assert "nested more than" in refusal(deeper)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '{"a": "' + "[{" * 1000 + '\\"' + "[" * 100 + '"}'
    assert loads_strict(text) == {"a": "[{" * 1000 + '"' + "[" * 100}


@pytest.mark.parametrize(
    "text",
    [
        '{"command": "npx"',
        "{'single': 'quotes'}",
        '{"a": 1,}',
        "",
        "   ",
        "not json",
        '{"a": 1} trailing',
        '{"a": undefined}',
        "[1, 2, 3",
    ],
)
def test_malformed_json_is_refused_with_position_information(text: str) -> None:
    message = refusal(text)
    assert message.startswith("Not valid JSON:")
    assert "line" in message and "column" in message


def test_a_lone_surrogate_escape_is_refused_instead_of_crashing_later() -> None:
    assert "invalid Unicode" in refusal('{"command": "\\ud800"}')
    assert "invalid Unicode" in refusal('"\ud800"')


def test_a_surrogate_pair_escape_is_an_ordinary_character() -> None:
    assert loads_strict('"\\ud83d\\ude00"') == "\U0001f600"
