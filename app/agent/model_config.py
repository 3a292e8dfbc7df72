"""Which model the assistant talks to, as the admin configured it (settings turn env vars into this)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Provider = Literal["openai", "anthropic"]


@dataclass(frozen=True)
class ModelConfig:
    """`provider="openai"` means any OpenAI-compatible Chat Completions endpoint (`base_url`, default OpenAI's).

    `api_key` is kept out of `repr` so it cannot end up in a log line or an error message by accident.
    """

    provider: Provider
    model: str
    api_key: str = field(repr=False)
    base_url: str | None = None
    timeout_seconds: float = 60.0
    max_tool_calls: int = 10
    # Token budget for the history sent with each turn (older tool results are cut first, see history.py).
    history_tokens: int = 24000
