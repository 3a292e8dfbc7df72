"""Who is asking: the owner named by a Slack payload (never by anything the payload's buttons carry)."""

from __future__ import annotations

import json
from typing import Any

from app.domain.owner import Owner


def owner_from_body(body: dict[str, Any]) -> Owner:
    if "user_id" in body:  # slash command (form fields)
        return Owner(team_id=body["team_id"], user_id=body["user_id"], enterprise_id=body.get("enterprise_id") or None)
    if isinstance(body.get("event"), dict):  # Events API envelope: the event's user, in the installing workspace
        authorization = (body.get("authorizations") or [{}])[0]
        team_id = authorization.get("team_id") or body["team_id"]
        enterprise_id = authorization.get("enterprise_id") or body.get("enterprise_id") or None
        return Owner(team_id=team_id, user_id=body["event"]["user"], enterprise_id=enterprise_id)
    user = body.get("user") or {}
    team = body.get("team") or {}
    enterprise = body.get("enterprise") or {}
    team_id = team.get("id") or user.get("team_id")
    return Owner(team_id=team_id, user_id=user["id"], enterprise_id=enterprise.get("id") if enterprise else None)


def view_metadata(view: dict[str, Any]) -> dict[str, str]:
    """The small JSON object we put in a modal's private_metadata; anything unreadable counts as empty."""
    try:
        loaded = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return {}
    return {k: str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
