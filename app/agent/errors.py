"""Why a turn failed, in one line a person can act on.

Provider exceptions carry response bodies, URLs and sometimes request details: none of that is repeated here.
The full error goes to our log (without the key, which pydantic-ai and the SDKs never put in messages).
"""

from __future__ import annotations

import logging

from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelContextWindowExceededError,
    ModelHTTPError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelRequestTimeout,
    ModelTimeoutError,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)

from app.agent.events import TurnFailed
from app.agent.model_config import ModelConfig

log = logging.getLogger(__name__)

TRY_AGAIN = "Try again in a moment."


def failure_for(error: Exception, config: ModelConfig) -> TurnFailed:
    failure = _describe(error, config)
    log.warning("assistant turn failed: %s (%s)", failure.message, type(error).__name__)
    return failure


def _describe(error: Exception, config: ModelConfig) -> TurnFailed:
    if isinstance(error, ModelRequestTimeout | ModelTimeoutError | TimeoutError):
        return TurnFailed(f"The model took longer than {config.timeout_seconds:g} s to answer. {TRY_AGAIN}")
    if isinstance(error, UsageLimitExceeded):
        if "tool_calls_limit" in str(error):
            return TurnFailed(f"Stopped after {config.max_tool_calls} tool calls in one turn (the limit).", False)
        return TurnFailed("Stopped: the model made too many requests in one turn (the limit).", False)
    if isinstance(error, ModelAuthenticationError):
        return TurnFailed(
            "The model service refused Plugboard's API key. An admin needs to check the LLM settings.", False
        )
    if isinstance(error, ModelNotFoundError):
        return TurnFailed(
            f"The model service does not know the model {config.model!r}. An admin needs to check the LLM settings.",
            False,
        )
    if isinstance(error, ModelContextWindowExceededError):
        return TurnFailed("This conversation is too long for the model. Start a new thread.", False)
    if isinstance(error, ModelRateLimitError):
        return TurnFailed("The model service is busy (rate limited). Try again in a minute.")
    if isinstance(error, ModelHTTPError):
        return TurnFailed(f"The model service answered with an error (HTTP {error.status_code}). {TRY_AGAIN}")
    if isinstance(error, ModelConnectionError):
        return TurnFailed(f"Plugboard could not reach the model service. {TRY_AGAIN}")
    if isinstance(error, ModelAPIError):
        return TurnFailed(f"The model service failed while answering. {TRY_AGAIN}")
    if isinstance(error, UnexpectedModelBehavior):
        if "max retries" in error.message:
            return TurnFailed("The model kept calling a tool with invalid arguments, so the turn was stopped.")
        return TurnFailed(f"The model gave an answer Plugboard could not use. {TRY_AGAIN}")
    log.exception("unexpected error in an assistant turn", exc_info=error)
    return TurnFailed(f"Something went wrong while answering. {TRY_AGAIN}")
