"""Build the pydantic-ai model for a `ModelConfig`, with our own key and base URL only (never the environment's)."""

from __future__ import annotations

from pydantic_ai.models import Model
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai_compatible import OpenAICompatibleProvider
from pydantic_ai.settings import ModelSettings

from app.agent.model_config import ModelConfig

OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"

# One SDK retry: a flaky 500 gets a second chance, a broken service fails within about two attempts.
SDK_MAX_RETRIES = 1


def model_settings(config: ModelConfig) -> ModelSettings:
    """Per-request settings: `timeout` bounds one HTTP attempt, `request_timeout` the whole request (retries and
    reading the stream included), so a hanging provider is given up on after `timeout_seconds`."""
    return ModelSettings(
        timeout=config.timeout_seconds,
        request_timeout=config.timeout_seconds,
        max_retries=SDK_MAX_RETRIES,
    )


def build_model(config: ModelConfig) -> Model:
    settings = model_settings(config)
    if config.provider == "anthropic":
        # The Anthropic SDK reads ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL for values left out: pass both.
        return AnthropicModel(
            config.model,
            provider=AnthropicProvider(api_key=config.api_key, base_url=config.base_url or ANTHROPIC_BASE_URL),
            settings=settings,
        )
    # OpenAICompatibleProvider never reads OPENAI_API_KEY / OPENAI_BASE_URL (OpenAIProvider would, and would send a
    # real key from the environment to whatever base_url is configured).
    provider = OpenAICompatibleProvider(
        "plugboard", base_url=config.base_url or OPENAI_BASE_URL, api_key=config.api_key
    )
    return OpenAIChatModel(config.model, provider=provider, settings=settings)
