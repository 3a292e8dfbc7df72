"""Settings from the environment and `.env`; secrets are SecretStr so they never print."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.domain.local_config import DEFAULT_CHILD_PATH

SETUP_DOC = "README.md, section 'Create the Slack app' (#create-the-slack-app)"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    port: int = Field(default=3000, ge=1, le=65535)
    host: str = "0.0.0.0"

    plugboard_data_dir: Path = Path("./data")
    plugboard_public_url: str | None = None
    plugboard_encryption_keys: SecretStr | None = None
    plugboard_policy_file: Path | None = None
    plugboard_admin_servers_file: Path | None = None

    plugboard_child_path: str = DEFAULT_CHILD_PATH
    # When unset, the policy file's limits apply.
    plugboard_connect_timeout: float | None = Field(default=None, gt=0)
    plugboard_request_timeout: float | None = Field(default=None, gt=0)
    plugboard_restart_backoff: float = Field(default=1.0, ge=0)
    plugboard_confirm_wait: float = Field(default=45.0, gt=0)

    # fsync the database at every commit (survives a power cut); off: a crash of Plugboard still loses nothing.
    plugboard_db_fsync_every_commit: bool = False

    # The assistant's model (admin-set; the base URL is not subject to the users' egress guard).
    plugboard_llm_provider: Literal["openai", "anthropic"] | None = None
    plugboard_llm_model: str | None = None
    plugboard_llm_api_key: SecretStr | None = None
    plugboard_llm_base_url: str | None = None
    plugboard_llm_max_tool_calls: int = Field(default=10, ge=1, le=100)
    plugboard_llm_timeout: float = Field(default=60.0, gt=0, le=3600)

    @property
    def llm_configured(self) -> bool:
        """A provider and a model are named; a key is needed too, except for a local server (Ollama, vLLM)."""
        return bool(self.plugboard_llm_provider and self.plugboard_llm_model) and (
            self.plugboard_llm_api_key is not None or self.plugboard_llm_base_url is not None
        )

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def public_url(self) -> str:
        return (self.plugboard_public_url or f"http://localhost:{self.port}").rstrip("/")

    def api_url(self) -> str:
        return self.slack_api_url if self.slack_api_url.endswith("/") else self.slack_api_url + "/"

    def missing(self) -> list[str]:
        """Names of the settings still needed to run, with what each is for."""
        problems: list[str] = []
        if self.slack_bot_token is None:
            problems.append("SLACK_BOT_TOKEN (the xoxb- Bot User OAuth Token from 'Install App')")
        if self.slack_app_token is None and self.slack_signing_secret is None:
            problems.append(
                "SLACK_APP_TOKEN (xapp- token with connections:write, for Socket Mode) "
                "or SLACK_SIGNING_SECRET (from 'Basic Information', for HTTP mode)"
            )
        return problems
