"""One turn per conversation at a time, and per person a rate and a concurrency cap that say when to retry."""

from __future__ import annotations

import asyncio

import pytest

from app.domain.errors import AssistantBusy
from app.domain.owner import Owner
from app.services.turn_gate import TurnGate
from tests.unit.fakes import FakeClock

pytestmark = pytest.mark.anyio

ANN = Owner(team_id="T1", user_id="UANN")
BEN = Owner(team_id="T1", user_id="UBEN")


async def test_a_second_message_in_a_thread_waits_for_the_turn_before_it() -> None:
    gate = TurnGate(turns_per_minute=10, concurrent_turns=5)
    order: list[str] = []
    first_inside = asyncio.Event()
    release_first = asyncio.Event()
    second_queued = asyncio.Event()

    async def first() -> None:
        async with gate.turn(ANN, "thread-1"):
            order.append("first starts")
            first_inside.set()
            await release_first.wait()
            order.append("first ends")

    async def second() -> None:
        await first_inside.wait()
        second_queued.set()  # no await between this and queueing behind the first turn
        async with gate.turn(ANN, "thread-1"):
            order.append("second starts")

    async with asyncio.timeout(5):
        task_one, task_two = asyncio.create_task(first()), asyncio.create_task(second())
        await second_queued.wait()
        assert order == ["first starts"]
        release_first.set()
        await asyncio.gather(task_one, task_two)
    assert order == ["first starts", "first ends", "second starts"]


async def test_turns_over_the_rate_are_refused_with_when_to_retry_and_allowed_again_after_a_minute() -> None:
    clock = FakeClock()
    gate = TurnGate(turns_per_minute=2, concurrent_turns=5, clock=clock)
    gate.admit(ANN)
    clock.now += 10
    gate.admit(ANN)
    with pytest.raises(AssistantBusy) as refused:
        gate.admit(ANN)
    assert refused.value.retry_after_seconds == 50 and "50 s" in str(refused.value)
    gate.admit(BEN)  # someone else is not affected
    clock.now += 51
    gate.admit(ANN)


async def test_more_turns_at_once_than_the_cap_are_refused_in_other_threads() -> None:
    gate = TurnGate(turns_per_minute=10, concurrent_turns=1)
    async with gate.turn(ANN, "thread-1"):
        with pytest.raises(AssistantBusy):
            async with gate.turn(ANN, "thread-2"):
                pass
        async with gate.turn(BEN, "thread-3"):
            pass
    async with gate.turn(ANN, "thread-2"):
        pass


async def test_nothing_is_kept_for_a_person_once_their_turns_are_over() -> None:
    clock = FakeClock()
    gate = TurnGate(turns_per_minute=10, concurrent_turns=2, clock=clock)
    gate.admit(ANN)
    clock.now += 61
    async with gate.turn(ANN, "thread-1"):
        pass
    assert gate._queues == {} and gate._running == {} and gate._started == {}
