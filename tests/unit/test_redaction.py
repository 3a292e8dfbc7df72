"""A server's secret values never reach what is shown or logged: each becomes a marker naming the setting."""

from __future__ import annotations

from app.domain.local_config import LocalServerConfig
from app.domain.remote_config import ApiKeyAuth, OAuthAuth, RemoteServerConfig
from app.security.redaction import MIN_SECRET_CHARS, Redactor, redact
from app.services.tool_service import redacted_preview


def test_every_occurrence_of_a_secret_value_becomes_a_marker_naming_its_variable() -> None:
    text = "token=sk-live-canary-12345 and again sk-live-canary-12345."
    assert redact(text, {"SECRET_TOKEN": "sk-live-canary-12345"}) == (
        "token=«redacted SECRET_TOKEN» and again «redacted SECRET_TOKEN»."
    )


def test_a_value_that_contains_another_secret_is_replaced_whole() -> None:
    secrets = {"SHORT": "abcd", "LONG": "xxabcdxx"}
    assert redact("a xxabcdxx b abcd", secrets) == "a «redacted LONG» b «redacted SHORT»"


def test_overlapping_occurrences_of_two_secrets_leave_no_character_of_either() -> None:
    secrets = {"A": "1234abcd", "B": "abcd5678"}
    shown = redact("<1234abcd5678>", secrets)
    assert shown == "<«redacted A»>"
    for value in secrets.values():
        assert value not in shown and "5678" not in shown and "1234" not in shown


def test_values_shorter_than_four_characters_are_left_alone_so_ordinary_text_stays_readable() -> None:
    assert MIN_SECRET_CHARS == 4
    assert redact("debug on: 1 of 3 failed", {"DEBUG": "on", "LEVEL": "1", "MODE": "dev"}) == "debug on: 1 of 3 failed"
    assert redact("key abcd", {"K": "abcd"}) == "key «redacted K»"


def test_the_token_after_a_bearer_scheme_is_redacted_even_when_printed_alone() -> None:
    secrets = RemoteServerConfig(
        url="https://mcp.example/", auth=ApiKeyAuth(value="Bearer tok-9f8e7d6c5b")
    ).secret_values()
    assert redact("sent Authorization: Bearer tok-9f8e7d6c5b", secrets) == "sent Authorization: «redacted api_key»"
    assert redact("token tok-9f8e7d6c5b refused", secrets) == "token «redacted api_key» refused"


def test_a_remote_servers_client_secret_is_redacted() -> None:
    config = RemoteServerConfig(url="https://mcp.example/", auth=OAuthAuth(client_id="c", client_secret="cs-123456"))
    assert Redactor(config.secret_values())("bad client cs-123456") == "bad client «redacted client_secret»"


def test_text_without_secrets_and_servers_without_secrets_are_returned_unchanged() -> None:
    assert redact("nothing to hide", {"TOKEN": "sk-live-canary-12345"}) == "nothing to hide"
    assert Redactor(LocalServerConfig(command="npx").secret_values())("sk-live-canary-12345") == "sk-live-canary-12345"


def test_the_audit_preview_redacts_a_servers_secret_before_cutting_values_short() -> None:
    secret = "a-very-long-secret-value-that-is-longer-than-forty-characters-0123"
    preview = redacted_preview({"query": f"find {secret}", "note": "x"}, redact=Redactor({"DB_PASSWORD": secret}))
    assert "«redacted DB_PASSWORD»" in preview
    assert secret[:12] not in preview
