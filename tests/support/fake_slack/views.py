"""views.open/push/update/publish: single-use trigger ids, the modal stack, view hashes, Block Kit checks."""

from __future__ import annotations

import copy
import time
from typing import Any

from tests.support.blockkit import view_problems
from tests.support.fake_slack.records import (
    MODAL_STACK_MAX,
    TRIGGER_TTL_SECONDS,
    USER_ID_RE,
    Trigger,
    api_error,
)
from tests.support.fake_slack.state import SlackState
from tests.support.slack_payloads import (
    API_APP_ID,
    USER_ID,
)


class ViewsApi(SlackState):
    def issue_trigger_id(self, user_id: str = USER_ID) -> str:
        """A fresh trigger_id as in an interaction payload: single use, valid for 3 s of ``clock``."""
        trigger_id = f"{self._rng.randrange(10**12, 10**13)}.{self._rng.randrange(10**12, 10**13)}.{self._hex(32)}"
        self._triggers[trigger_id] = Trigger(issued_at=self.clock(), user_id=user_id)
        return trigger_id

    def register_view(self, view: dict[str, Any], *, user_id: str = USER_ID) -> dict[str, Any]:
        """Store ``view`` as if Slack had opened it for ``user_id`` (no validation); returns it with id/hash."""
        stored = self._store_view(view, user_id=user_id)
        self._stacks[user_id] = [stored["id"]]
        return copy.deepcopy(stored)

    def view_stack(self, user_id: str = USER_ID) -> list[dict[str, Any]]:
        return [copy.deepcopy(self.views[v]) for v in self._stacks.get(user_id, [])]

    def close_views(self, user_id: str = USER_ID) -> None:
        """Simulate the user closing the modal (or ``response_action: clear``)."""
        self._stacks.pop(user_id, None)

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        trigger, error = self._check_trigger(params)
        if error is not None:
            return error
        assert trigger is not None
        view, error = self._checked_view("views.open", params, expect_type="modal")
        if error is not None:
            return error
        trigger.used = True
        stored = self._store_view(view, user_id=trigger.user_id)
        self._stacks[trigger.user_id] = [stored["id"]]
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        trigger, error = self._check_trigger(params)
        if error is not None:
            return error
        assert trigger is not None
        view, error = self._checked_view("views.push", params, expect_type="modal")
        if error is not None:
            return error
        stack = self._stacks.setdefault(trigger.user_id, [])
        if len(stack) >= MODAL_STACK_MAX:
            return api_error("push_limit_reached")
        trigger.used = True
        previous = stack[-1] if stack else None
        stored = self._store_view(
            view, user_id=trigger.user_id, root_view_id=stack[0] if stack else None, previous_view_id=previous
        )
        stack.append(stored["id"])
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if not view_id and not external_id:
            return api_error("invalid_arguments", ["[ERROR] one of view_id or external_id is required"])
        current = self.views.get(str(view_id)) if view_id else None
        if current is None and external_id:
            current = next((v for v in self.views.values() if v.get("external_id") == external_id), None)
        if current is None:
            return api_error("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            return api_error("hash_conflict")
        view, error = self._checked_view("views.update", params, expect_type=str(current["type"]))
        if error is not None:
            return error
        stored = self._store_view(
            view,
            user_id=self._view_owner.get(current["id"], USER_ID),
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = params.get("user_id")
        if not user_id:
            return api_error("invalid_arguments", ["[ERROR] missing required field: user_id"])
        if not USER_ID_RE.match(str(user_id)):
            return api_error("user_not_found")
        current = self.homes.get(str(user_id))
        if params.get("hash") and current is not None and params["hash"] != current["hash"]:
            return api_error("hash_conflict")
        view, error = self._checked_view("views.publish", params, expect_type="home")
        if error is not None:
            return error
        stored = self._store_view(view, user_id=str(user_id), view_id=current["id"] if current else None)
        self.homes[str(user_id)] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _check_trigger(self, params: dict[str, Any]) -> tuple[Trigger | None, dict[str, Any] | None]:
        trigger_id = params.get("trigger_id")
        if not trigger_id:
            return None, api_error("invalid_arguments", ["[ERROR] missing required field: trigger_id"])
        trigger = self._triggers.get(str(trigger_id))
        if trigger is None:
            return None, api_error("invalid_trigger_id")
        if trigger.used:
            return None, api_error("exchanged_trigger_id")
        if self.clock() - trigger.issued_at > TRIGGER_TTL_SECONDS:
            return None, api_error("expired_trigger_id")
        return trigger, None

    def _checked_view(
        self, method: str, params: dict[str, Any], *, expect_type: str
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        view = params.get("view")
        if not isinstance(view, dict):
            return {}, api_error("invalid_arguments", ["[ERROR] missing required field: view"])
        problems = view_problems(view)
        if view.get("type") != expect_type:
            problems.insert(0, f"view: {method} needs a view of type {expect_type!r}, got {view.get('type')!r}")
        if view.get("external_id"):
            clash = next(
                (v for v in self.views.values() if v.get("external_id") == view["external_id"]),
                None,
            )
            if clash is not None and clash["id"] != params.get("view_id") and method != "views.update":
                return {}, api_error("duplicate_external_id")
        if problems:
            self.problems.extend(f"{method}: {p}" for p in problems)
            error = "view_too_large" if any("view_too_large" in p for p in problems) else "invalid_arguments"
            return {}, api_error(error, [f"[ERROR] {p}" for p in problems])
        return view, None

    def _store_view(
        self,
        view: dict[str, Any],
        *,
        user_id: str,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> dict[str, Any]:
        vid = view_id or self._new_id("V")
        stored = {
            "id": vid,
            "team_id": self.team_id,
            "type": view.get("type"),
            "blocks": self._with_generated_ids(view.get("blocks") or []),
            "private_metadata": view.get("private_metadata") or "",
            "callback_id": view.get("callback_id") or "",
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{self._alnum(8, lower=True)}",
            "title": copy.deepcopy(view.get("title")),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": copy.deepcopy(view.get("close")),
            "submit": copy.deepcopy(view.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or vid,
            "app_id": API_APP_ID,
            "external_id": view.get("external_id") or "",
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[vid] = stored
        self._view_owner[vid] = user_id
        return stored
