"""The model sees each tool as `server__tool`, at most 64 characters; a longer name is cut and given a hash."""

from __future__ import annotations

import re

from app.services.assistant_tools import MODEL_NAME_LIMIT, model_tool_name


def test_a_name_that_fits_is_kept_as_the_listings_show_it() -> None:
    assert model_tool_name("github__search_issues") == "github__search_issues"


def test_a_long_name_is_cut_to_64_characters_with_a_hash_that_keeps_two_long_names_apart() -> None:
    server = "a-very-long-server-name-of-32-ch"
    one = model_tool_name(f"{server}__create_or_update_a_file_in_a_repository_branch")
    two = model_tool_name(f"{server}__create_or_update_a_file_in_a_repository_fork")
    assert len(one) == len(two) == MODEL_NAME_LIMIT
    assert one != two
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", one)
    assert one.startswith(server)
