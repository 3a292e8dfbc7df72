"""Who owns a server: one Slack user in one workspace (or Enterprise Grid org)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator

_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")


class Owner(BaseModel):
    """A Slack user in one workspace; the unit of isolation for servers, secrets and tools."""

    model_config = ConfigDict(frozen=True)

    team_id: str
    user_id: str
    enterprise_id: str | None = None

    @field_validator("team_id", "user_id", "enterprise_id")
    @classmethod
    def _slack_id(cls, value: str | None) -> str | None:
        # These ids name folders on disk, so anything but Slack's own alphabet is refused.
        if value is not None and not _SLACK_ID.fullmatch(value):
            raise ValueError(f"not a Slack id: {value!r}")
        return value

    @property
    def id(self) -> str:
        parts = [self.enterprise_id, self.team_id, self.user_id]
        return "-".join(p for p in parts if p)

    def __str__(self) -> str:
        return self.id
