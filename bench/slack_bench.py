"""Slack side: how fast a signed `/mcp` slash command is acknowledged, the real Bolt app vs a bare one."""

from __future__ import annotations

import base64
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
from pydantic import SecretStr
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.stats import Comparison, Summary
from tests.support import slack_payloads as payloads
from tests.support.fake_slack import FakeSlack
from tests.support.harness import SIGNING_SECRET, Harness

BASE_URL = "http://plugboard.bench"
RESPONSES_SETTLE_SECONDS = 10.0


def bare_bolt_asgi(slack: FakeSlack) -> Starlette:
    """The least a Bolt app can do for `/mcp`: acknowledge it, behind the same adapter and routing."""
    bolt = AsyncApp(client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url), signing_secret=SIGNING_SECRET)

    async def mcp(ack: AsyncAck) -> None:
        await ack(text="ok", response_type="ephemeral")

    bolt.command("/mcp")(mcp)
    handler = AsyncSlackRequestHandler(bolt)

    async def slack_events(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response

    return Starlette(routes=[Route("/slack/events", slack_events, methods=["POST"])])


async def _ack_latencies(
    http: httpx2.AsyncClient, slack: FakeSlack, text: str, requests: int, warmup: int
) -> list[float]:
    samples: list[float] = []
    for index in range(warmup + requests):
        body = payloads.slash_command(
            text,
            user_id=payloads.USER_ID,
            team_id=payloads.TEAM_ID,
            trigger_id=slack.issue_trigger_id(payloads.USER_ID),
            response_url=slack.new_response_url(),
        )
        headers = payloads.sign(body, SIGNING_SECRET)
        started = time.perf_counter()
        response = await http.post("/slack/events", content=body, headers=headers)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"/mcp {text} answered {response.status_code}: {response.text[:200]}")
        if index >= warmup:
            samples.append(elapsed)
    return samples


@asynccontextmanager
async def _bare_client(slack: FakeSlack) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=bare_bolt_asgi(slack))
    async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


async def _settle_responses(slack: FakeSlack, expected: int) -> None:
    """`/mcp list` answers through response_url after the ack: let those finish before Slack goes away."""
    deadline = time.monotonic() + RESPONSES_SETTLE_SECONDS
    while len(slack.calls_to("response_url")) < expected and time.monotonic() < deadline:
        await slack.wait_for("response_url", timeout=RESPONSES_SETTLE_SECONDS, after=slack.mark())


async def slack_acks(requests: int, warmup: int = 20) -> list[Comparison]:
    comparisons: list[Comparison] = []
    with tempfile.TemporaryDirectory(prefix="plugboard-bench-") as tmp:
        async with FakeSlack() as slack:
            async with _bare_client(slack) as bare_http:
                bare = await _ack_latencies(bare_http, slack, "help", requests, warmup)
            key = SecretStr(f"bench:{base64.b64encode(secrets.token_bytes(32)).decode()}")
            async with Harness.app_on(Path(tmp) / "data", slack, plugboard_encryption_keys=key) as harness:
                help_samples = await _ack_latencies(harness.http, slack, "help", requests, warmup)
                list_samples = await _ack_latencies(harness.http, slack, "list", requests, warmup)
                await _settle_responses(slack, requests + warmup)
            if slack.problems:
                raise RuntimeError(f"the app broke Slack's rules during the benchmark: {slack.problems[:3]}")
    baseline = Summary.of(bare)
    label = "bare Bolt AsyncApp, `/mcp` handler that only acks"
    for text, samples in (("help", help_samples), ("list", list_samples)):
        comparisons.append(
            Comparison(
                f"Slack ack: signed /mcp {text}",
                label,
                baseline,
                Summary.of(samples),
                tail="p99",
                note="POST /slack/events over httpx2.ASGITransport until the HTTP answer (the ack); "
                "`list` answers by response_url after acking",
            )
        )
    return comparisons
