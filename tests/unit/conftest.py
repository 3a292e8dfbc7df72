"""Fixtures the fake Slack's own tests share: the fake on a hand-moved clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.fake_slack import FakeSlack
from tests.unit.fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def slack(clock: FakeClock) -> AsyncIterator[FakeSlack]:
    async with FakeSlack(clock=clock) as fake:
        yield fake
