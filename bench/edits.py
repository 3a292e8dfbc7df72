"""An edit through Slack, as a person makes one: `/mcp edit tiny` opens the prefilled modal, the changed
arguments are submitted and reviewed, and the clock runs from the Confirm click until the report says the new copy
is ready (its tools listed). The baseline is what any app pays for the same: a bare connect + `list_tools` of the
same server (the bare Bolt app's `/mcp reload`), interleaved."""

from __future__ import annotations

import json
import time
from typing import Any

from bench.world import TINY_SERVER, SlackCalls, World, owner
from tests.support import slack_payloads as payloads
from tests.support.flows import all_worked, finished
from tests.support.harness import find_action

REPORT_TIMEOUT = 60.0


async def edit_ready(world: World, base_url: str, who: int, edition: int) -> float:
    """Seconds from the Confirm click until the edited server's report says it is ready."""
    person = owner(who)
    calls = SlackCalls(world.http, world.sink_url)
    mark = await calls.count()
    review_url = world.receiver.new_url()
    await world.slash(base_url, "edit tiny", person, review_url, trigger_id=await world.trigger_id(person))
    opened = await calls.answer_to("views.open", mark)
    if not opened.get("ok"):
        raise RuntimeError(f"the edit modal did not open: {json.dumps(opened)[:300]}")
    view: dict[str, Any] = opened["view"]
    fields = _prefilled(view)
    fields["args"] = f"{TINY_SERVER}\n--name\nbench-edit-{edition}"  # a real change: a new copy must start
    submission = payloads.view_submission(
        view,
        {block_id: {"value": payloads.text_value(value)} for block_id, value in fields.items()},
        user_id=person.user_id,
        team_id=person.team_id,
        trigger_id=await world.trigger_id(person),
    )
    await world.interact(base_url, submission)
    _, review = await world.receiver.wait(review_url, lambda m: "change_confirm" in json.dumps(m), REPORT_TIMEOUT)
    report_url = world.receiver.new_url()
    click = payloads.block_actions(
        find_action(review["blocks"], "change_confirm"),
        user_id=person.user_id,
        team_id=person.team_id,
        trigger_id=await world.trigger_id(person),
        response_url=report_url,
        message={"text": review.get("text", ""), "blocks": review["blocks"]},
    )
    started = time.perf_counter()
    await world.interact(base_url, click)
    arrived, report = await world.receiver.wait(report_url, finished, REPORT_TIMEOUT)
    world.receiver.forget(review_url)
    world.receiver.forget(report_url)
    if not all_worked(report):
        raise RuntimeError(f"the edit did not work: {json.dumps(report)[:400]}")
    return arrived - started


def _prefilled(view: dict[str, Any]) -> dict[str, str | None]:
    """What each input of the modal shows before typing (a real submission sends these back)."""
    return {
        block["block_id"]: block["element"].get("initial_value")
        for block in view["blocks"]
        if block.get("type") == "input"
    }
