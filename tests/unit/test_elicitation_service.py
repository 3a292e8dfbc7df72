"""The elicitation service asks the server's owner, waits a bounded time, and answers the server with what the
person did: accept with content, decline, or cancel when nobody answered."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import mcp_types as types
import pytest

from app.domain.errors import ElicitationGone, NotYourElicitation
from app.domain.local_config import LocalServerConfig
from app.domain.owner import Owner
from app.domain.server import ServerRecord
from app.services.elicitation_service import (
    Conversation,
    ElicitationRequest,
    ElicitationService,
    Outcome,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id="T0TEST", user_id="U0ALICE")
BOB = Owner(team_id="T0TEST", user_id="U0BOB")
RECORD = ServerRecord.approved_new(ALICE, "asker", LocalServerConfig(command="asker"), enabled=True, now=0)
FORM = types.ElicitRequestFormParams(
    message="Who are you?",
    requested_schema={"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
)


class Notifier:
    """What the person would see: the questions asked, and how each was settled."""

    def __init__(self) -> None:
        self.asked: list[ElicitationRequest] = []
        self.settled_as: list[tuple[str, Outcome]] = []

    async def ask(self, request: ElicitationRequest) -> None:
        self.asked.append(request)

    async def settled(self, request: ElicitationRequest, outcome: Outcome) -> None:
        self.settled_as.append((request.id, outcome))


def service(timeout: float = 30.0) -> tuple[ElicitationService, Notifier]:
    notifier = Notifier()
    elicitation = ElicitationService(timeout=timeout)
    elicitation.notify_with(notifier)
    return elicitation, notifier


async def ask_and_answer(
    elicitation: ElicitationService,
    notifier: Notifier,
    params: types.ElicitRequestParams,
    answer: Callable[[ElicitationRequest], object] | None,
) -> types.ElicitResult | types.ErrorData:
    results: list[types.ElicitResult | types.ErrorData] = []

    async def server_asks() -> None:
        results.append(await elicitation.handle(RECORD, params))

    before = len(notifier.asked)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(server_asks)
        if answer is not None:
            await wait_until(lambda: len(notifier.asked) > before, timeout=5, what="the question")
            answer(notifier.asked[-1])
    return results[0]


async def test_the_owners_answer_goes_back_to_the_server_as_accept_with_content() -> None:
    elicitation, notifier = service()
    result = await ask_and_answer(
        elicitation, notifier, FORM, lambda asked: elicitation.answer(ALICE, asked.id, {"name": "ann"})
    )
    assert result == types.ElicitResult(action="accept", content={"name": "ann"})
    assert notifier.settled_as == [(notifier.asked[0].id, "accepted")]
    assert notifier.asked[0].where is None  # the owner's DM


async def test_a_decline_is_told_to_the_server_and_the_question_closes() -> None:
    elicitation, notifier = service()
    result = await ask_and_answer(elicitation, notifier, FORM, lambda asked: elicitation.decline(ALICE, asked.id))
    assert result == types.ElicitResult(action="decline")
    with pytest.raises(ElicitationGone):
        elicitation.pending(ALICE, notifier.asked[0].id)


async def test_nobody_answering_in_time_cancels_the_request() -> None:
    elicitation, notifier = service(timeout=0.05)
    result = await ask_and_answer(elicitation, notifier, FORM, None)
    assert result == types.ElicitResult(action="cancel")
    assert [outcome for _, outcome in notifier.settled_as] == ["expired"]


async def test_only_the_owner_may_answer() -> None:
    elicitation, notifier = service()

    def bob_then_alice(asked: ElicitationRequest) -> None:
        for attempt in (lambda: elicitation.decline(BOB, asked.id), lambda: elicitation.pending(BOB, asked.id)):
            with pytest.raises(NotYourElicitation):
                attempt()
        elicitation.answer(ALICE, asked.id, {"name": "ann"})

    result = await ask_and_answer(elicitation, notifier, FORM, bob_then_alice)
    assert isinstance(result, types.ElicitResult) and result.action == "accept"


async def test_a_form_that_is_not_flat_and_a_link_that_is_not_http_are_refused_without_asking() -> None:
    elicitation, notifier = service()
    nested = types.ElicitRequestFormParams(
        message="x", requested_schema={"type": "object", "properties": {"deep": {"type": "object"}}}
    )
    script = types.ElicitRequestURLParams(message="x", url="javascript:alert(1)", elicitation_id="e")
    for params in (nested, script):
        refused = await elicitation.handle(RECORD, params)
        assert isinstance(refused, types.ErrorData) and refused.code == types.INVALID_PARAMS
    assert notifier.asked == []


async def test_a_caller_can_have_questions_asked_in_its_thread_instead_of_the_dm() -> None:
    elicitation, notifier = service()
    place = Conversation("C0CHANNEL1", "1700000000.000100")
    with elicitation.asking_in(RECORD.id, place):
        await ask_and_answer(elicitation, notifier, FORM, lambda asked: elicitation.decline(ALICE, asked.id))
    await ask_and_answer(elicitation, notifier, FORM, lambda asked: elicitation.decline(ALICE, asked.id))
    assert [asked.where for asked in notifier.asked] == [place, None]


async def test_a_url_request_is_accepted_by_opening_the_link() -> None:
    elicitation, notifier = service()
    link = types.ElicitRequestURLParams(message="Sign in", url="https://example.com/x?y=1", elicitation_id="e")
    opened: list[str] = []
    result = await ask_and_answer(
        elicitation, notifier, link, lambda asked: opened.append(elicitation.open_link(ALICE, asked.id))
    )
    assert result == types.ElicitResult(action="accept") and opened == ["https://example.com/x?y=1"]
    assert notifier.asked[0].host == "example.com"


async def test_a_question_that_cannot_be_posted_is_answered_with_an_error_at_once() -> None:
    class Unreachable(Notifier):
        async def ask(self, request: ElicitationRequest) -> None:
            raise RuntimeError("channel_not_found")

    elicitation = ElicitationService()
    elicitation.notify_with(Unreachable())
    refused = await elicitation.handle(RECORD, FORM)
    assert isinstance(refused, types.ErrorData) and refused.code == types.INTERNAL_ERROR
