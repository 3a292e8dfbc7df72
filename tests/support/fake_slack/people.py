"""users.info and conversations.open (DM channels)."""

from __future__ import annotations

import copy
import time
from typing import Any

from tests.support.fake_slack.records import (
    CONVERSATION_ID_RE,
    USER_ID_RE,
    api_error,
)
from tests.support.fake_slack.state import SlackState
from tests.support.slack_payloads import (
    dm_channel_id,
)


class PeopleApi(SlackState):
    def add_user(self, user_id: str, **fields: Any) -> dict[str, Any]:
        """Register (or override fields of) the user ``users.info`` returns for ``user_id``."""
        user = self._default_user(user_id)
        user.update(fields)
        self.users[user_id] = user
        return user

    def dm_channel(self, user_id: str) -> str:
        return dm_channel_id(user_id)

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            existing = str(params["channel"])
            if not CONVERSATION_ID_RE.match(existing):
                return api_error("channel_not_found")
            return {"ok": True, "channel": {"id": existing}}
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            return api_error("users_list_not_supplied")
        if any(not USER_ID_RE.match(u) for u in users):
            return api_error("user_not_found")
        if len(users) > 8:
            return api_error("too_many_users")
        channel_id = dm_channel_id(",".join(sorted(users)))
        if len(users) > 1:
            channel_id = "G" + channel_id[1:]  # a multi-person DM
        channel: dict[str, Any] = {"id": channel_id}
        if str(params.get("return_im", "")).lower() in ("1", "true") and len(users) == 1:
            channel.update({"created": int(time.time()), "is_im": True, "is_org_shared": False, "user": users[0]})
        return {"ok": True, "no_op": False, "already_open": False, "channel": channel}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("user") or "")
        if not USER_ID_RE.match(user_id):
            return api_error("user_not_found")
        return {"ok": True, "user": copy.deepcopy(self.users.get(user_id) or self._default_user(user_id))}

    def _default_user(self, user_id: str) -> dict[str, Any]:
        name = f"user.{user_id.lower()}"
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": f"Test User {user_id}",
            "tz": "Europe/Berlin",
            "tz_label": "Central European Time",
            "tz_offset": 3600,
            "profile": {
                "real_name": f"Test User {user_id}",
                "display_name": name,
                "email": f"{name}@example.com",
                "team": self.team_id,
            },
            "is_admin": False,
            "is_owner": False,
            "is_bot": False,
            "is_app_user": False,
            "updated": int(time.time()),
        }
