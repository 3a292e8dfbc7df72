"""Settings: what is missing, which mode, and that secrets never print."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import SETUP_DOC, Settings

BOT_TOKEN = "xoxb-1111-2222-secretbotvalue"
APP_TOKEN = "xapp-1-A111-333-secretappvalue"
SIGNING_SECRET = "signing-secret-abcdef0123456789"
ENCRYPTION_KEYS = "k1:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer shell variable or .env file takes part: the cwd is an empty folder."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "PLUGBOARD_")) or name in ("PORT", "HOST"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_nothing_configured_names_the_bot_token_and_either_mode_secret() -> None:
    missing = Settings().missing()

    assert len(missing) == 2
    assert "SLACK_BOT_TOKEN" in missing[0]
    assert "SLACK_APP_TOKEN" in missing[1] and "SLACK_SIGNING_SECRET" in missing[1]
    assert "Create the Slack app" in SETUP_DOC


def test_a_bot_token_alone_still_needs_an_app_token_or_a_signing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)

    [missing] = Settings().missing()

    assert "SLACK_APP_TOKEN" in missing and "SLACK_SIGNING_SECRET" in missing
    assert "SLACK_BOT_TOKEN" not in missing


def test_a_signing_secret_alone_still_needs_the_bot_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)

    [missing] = Settings().missing()

    assert "SLACK_BOT_TOKEN" in missing


def test_bot_token_and_signing_secret_run_in_http_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)

    settings = Settings()

    assert settings.missing() == []
    assert settings.socket_mode is False


def test_an_app_token_switches_to_socket_mode_without_a_signing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)

    settings = Settings()

    assert settings.missing() == []
    assert settings.socket_mode is True


def test_empty_environment_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "")
    monkeypatch.setenv("SLACK_APP_TOKEN", "")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "")
    monkeypatch.setenv("PORT", "")
    monkeypatch.setenv("PLUGBOARD_DATA_DIR", "")

    settings = Settings()

    assert settings.slack_bot_token is None and settings.slack_app_token is None
    assert settings.socket_mode is False
    assert len(settings.missing()) == 2
    assert settings.port == 3000
    assert settings.plugboard_data_dir == Path("data")


def test_empty_values_in_the_dotenv_file_count_as_unset(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"SLACK_BOT_TOKEN={BOT_TOKEN}\nSLACK_APP_TOKEN=\nSLACK_SIGNING_SECRET=\n")

    settings = Settings()

    assert settings.slack_bot_token is not None and settings.slack_bot_token.get_secret_value() == BOT_TOKEN
    assert settings.socket_mode is False
    [missing] = settings.missing()
    assert "SLACK_SIGNING_SECRET" in missing


def test_the_environment_wins_over_the_dotenv_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=4000\n")
    monkeypatch.setenv("PORT", "5000")

    assert Settings().port == 5000


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("http://127.0.0.1:9999/api", "http://127.0.0.1:9999/api/"),
        ("http://127.0.0.1:9999/api/", "http://127.0.0.1:9999/api/"),
    ],
)
def test_the_api_url_always_ends_with_a_slash(monkeypatch: pytest.MonkeyPatch, configured: str, expected: str) -> None:
    monkeypatch.setenv("SLACK_API_URL", configured)

    assert Settings().api_url() == expected


def test_the_default_api_url_is_slack() -> None:
    assert Settings().api_url() == "https://slack.com/api/"


def test_secrets_never_appear_when_settings_are_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("PLUGBOARD_ENCRYPTION_KEYS", ENCRYPTION_KEYS)

    settings = Settings()
    shown = [repr(settings), str(settings), settings.model_dump_json(), repr(settings.model_dump())]

    for text in shown:
        for secret in (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, ENCRYPTION_KEYS, ENCRYPTION_KEYS.partition(":")[2]):
            assert secret not in text
    assert settings.slack_bot_token is not None and settings.slack_bot_token.get_secret_value() == BOT_TOKEN


def test_an_invalid_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "70000")

    with pytest.raises(ValidationError):
        Settings()
