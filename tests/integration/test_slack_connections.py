"""Answers to Slack go over connections the app keeps open, not a new connection (with real Slack, a new TLS
handshake) for every answer."""

from __future__ import annotations

import pytest

from tests.support.harness import Harness

pytestmark = pytest.mark.anyio


async def test_answers_to_several_commands_reuse_one_connection_to_slack(harness: Harness) -> None:
    alice = harness.user()
    for _ in range(3):
        await alice.command("list")
        await alice.reply()

    answers = harness.slack.calls_to("response_url")
    assert len(answers) == 3
    assert all(answer.peer for answer in answers)
    assert len({answer.peer for answer in answers}) == 1, [answer.peer for answer in answers]
