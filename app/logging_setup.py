"""Logging with secrets redacted: Slack tokens, bearer values and any registered secret value."""

from __future__ import annotations

import logging
import re

_PATTERNS = re.compile(
    r"(xox[abposr]-[0-9A-Za-z-]+|xapp-[0-9A-Za-z-]+|Bearer\s+\S+|eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+|"
    r"(?:access_token|refresh_token|client_secret|code_verifier|code|state|id_token)=[^&\s]+)"
)


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self._secrets = [s for s in (secrets or []) if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _PATTERNS.sub("[redacted]", message)
        for secret in self._secrets:
            redacted = redacted.replace(secret, "[redacted]")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(secrets: list[str], level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpx2", "httpcore", "httpcore2", "mcp", "slack_bolt", "slack_sdk", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The SDK logs refused sign-ins and bad server output at ERROR with tracebacks; Plugboard reports
    # those to the owner itself, so only the SDK's critical messages reach the log.
    for chatty in ("mcp.client.auth", "mcp.client.stdio"):
        logging.getLogger(chatty).setLevel(logging.CRITICAL)
