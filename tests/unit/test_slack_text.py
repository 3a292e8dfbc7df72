"""Text from users and servers shown in Slack mrkdwn: no pings, no fake links, no hidden characters."""

from __future__ import annotations

import re

import pytest

from app.slack.text import chunks, clean, code, code_block, escape, escaped_chunks, truncate


def test_channel_and_user_mentions_are_neutered() -> None:
    for text in ("<!channel>", "<!here>", "<!everyone>", "<@U012345>", "<!subteam^S123>"):
        shown = escape(text)
        assert "<" not in shown and ">" not in shown
        assert shown.startswith("&lt;") and shown.endswith("&gt;")


def test_a_disguised_link_cannot_be_formed() -> None:
    assert escape("<https://evil.example|ok>") == "&lt;https://evil.example|ok&gt;"


def test_ampersands_are_escaped_first_so_existing_entities_stay_visible() -> None:
    assert escape("a & b &lt; c") == "a &amp; b &amp;lt; c"


def test_escape_keeps_newlines_and_tabs() -> None:
    assert escape("a\n\tb") == "a\n\tb"


@pytest.mark.parametrize(
    "hidden",
    [
        "\u200b",
        "\u200c",
        "\u200d",
        "\u200e",
        "\u200f",
        "\u202a",
        "\u202b",
        "\u202c",
        "\u202d",
        "\u202e",
        "\u2066",
        "\u2067",
        "\u2068",
        "\u2069",
        "\u2060",
        "\ufeff",
        "\u00ad",
        "\x00",
        "\x1b",
        "\x7f",
        "\x85",
        "\r",
    ],
)
def test_invisible_bidi_and_control_characters_are_removed(hidden: str) -> None:
    assert clean(f"git{hidden}hub") == "github"
    assert escape(f"git{hidden}hub") == "github"


def test_a_right_to_left_override_cannot_reverse_what_is_shown() -> None:
    assert clean("evil\u202eelif.exe") == "evilelif.exe"


def test_inline_code_cannot_be_broken_out_of_with_backticks() -> None:
    shown = code("x` <!channel> `y")
    assert shown.startswith("`") and shown.endswith("`")
    assert shown.count("`") == 2
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown


def test_a_code_block_cannot_be_closed_early() -> None:
    shown = code_block("before ``` <!here> ``` after")
    inner = shown[3:-3]
    assert "```" not in inner
    assert "&lt;!here&gt;" in inner


def test_truncate_keeps_short_text_and_marks_cut_text() -> None:
    assert truncate("short", 10) == "short"
    cut = truncate("x" * 50, 10)
    assert len(cut) == 10 and cut.endswith("…")


def test_chunks_cover_the_whole_text() -> None:
    text = "abcdefghij" * 7
    pieces = chunks(text, 16)
    assert "".join(pieces) == text
    assert all(len(p) <= 16 for p in pieces)
    assert chunks("", 5) == [""]


def test_escaped_chunks_respect_the_limit_and_rejoin_to_the_escaped_text() -> None:
    text = "<a&b>" * 400 + " tail"
    pieces = escaped_chunks(text, 37)
    assert all(len(p) <= 37 for p in pieces)
    assert "".join(pieces) == escape(text)


@pytest.mark.parametrize("limit", range(5, 40))
def test_escaped_chunks_never_split_an_entity(limit: int) -> None:
    text = "x&" * 50 + "<>" * 30
    entity_or_char = re.compile(r"&amp;|&lt;|&gt;|[^&]")
    for piece in escaped_chunks(text, limit):
        assert entity_or_char.sub("", piece) == "", f"piece {piece!r} holds a partial entity"
        assert len(piece) <= limit


def test_escaped_chunks_drop_hidden_characters_before_splitting() -> None:
    assert escaped_chunks("a\u202eb<c", 100) == ["ab&lt;c"]


def test_escaped_chunks_of_empty_text_is_one_empty_piece() -> None:
    assert escaped_chunks("", 10) == [""]
