"""Who is asking: the owner named by a Slack payload (never by anything the payload's buttons carry)."""

from __future__ import annotations

from typing import Any

from app.domain.owner import Owner


def owner_from_body(body: dict[str, Any]) -> Owner:
    if "user_id" in body:  # slash command (form fields)
        return Owner(team_id=body["team_id"], user_id=body["user_id"], enterprise_id=body.get("enterprise_id") or None)
    user = body.get("user") or {}
    team = body.get("team") or {}
    enterprise = body.get("enterprise") or {}
    team_id = team.get("id") or user.get("team_id")
    return Owner(team_id=team_id, user_id=user["id"], enterprise_id=enterprise.get("id") if enterprise else None)


def owner_from_event(event: dict[str, Any], team_id: str, enterprise_id: str | None) -> Owner:
    return Owner(team_id=team_id, user_id=event["user"], enterprise_id=enterprise_id)
