"""Who owns a server: one Slack user in one workspace (or Enterprise Grid org)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

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

    @classmethod
    def from_id(cls, owner_id: str) -> Owner:
        """The owner named by `owner_id` (`TEAM-USER` or `ENTERPRISE-TEAM-USER`); ValueError if it is not one."""
        parts = owner_id.split("-")
        try:
            if len(parts) == 2:
                return cls(team_id=parts[0], user_id=parts[1])
            if len(parts) == 3:
                return cls(enterprise_id=parts[0], team_id=parts[1], user_id=parts[2])
        except ValidationError:
            pass
        raise ValueError(f"not an owner id: {owner_id[:80]!r} (expected TEAM-USER, e.g. T0123-U0456)")
