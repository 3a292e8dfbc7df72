"""The assistant's own overhead, with a zero-latency fake model (its time is the model's, not ours):

1. event received → first byte to Slack, 50 threads at once: Plugboard (`python -m app`, a real process) vs a
   bare Bolt app that sets the thread's status at once (`bench.bare_assistant`), interleaved, same fake Slack and
   fake model (each a process of its own).
2. a tool call through the assistant's toolbox (catalog lookup, the model-side schema check, `ToolService.call`) vs
   the same call through `ToolService` alone, interleaved, on one live tiny server.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
from pydantic import SecretStr

from app.agent.tool_bridge import _schema_problems
from app.domain.assistant import Step, ThreadRef, conversation_key
from app.domain.owner import Owner
from app.domain.server_map import parse_server_map
from app.services.assistant_tools import ConversationTools, ThreadToolBox, TurnContext
from app.settings import Settings
from app.store.assistant_approvals import ApprovalModeRepository
from app.wiring import Core, build_core
from bench.raw_http import RawPoster
from bench.stats import Row, median, percentile, ratio, table
from bench.world import SlackCalls, fake_model_process, fake_slack_process, stop_fake_slack
from tests.support import slack_payloads as payloads
from tests.support.app_process import AppProcess, app_env, new_encryption_key
from tests.support.harness import SIGNING_SECRET, policy_toml
from tests.support.loopback import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY_SERVER = str(REPO_ROOT / "tests" / "servers" / "tiny_server.py")
THREADS = 50
ROUNDS = 4
TOOL_CALLS = 200
FIRST_BYTE_GOAL_MS = 150.0
TOOL_CALL_GOAL = 1.10
FIRST_METHODS = ("assistant.threads.setStatus", "chat.startStream", "chat.postMessage")


def _llm_env(model_url: str) -> dict[str, str]:
    return {
        "PLUGBOARD_LLM_PROVIDER": "openai",
        "PLUGBOARD_LLM_MODEL": "gpt-4o-mini",
        "PLUGBOARD_LLM_API_KEY": "sk-bench-not-a-real-key",
        "PLUGBOARD_LLM_BASE_URL": model_url,
    }


async def _burst(poster: RawPoster, calls: SlackCalls, owners: list[Owner]) -> list[float]:
    """50 DMs at once; for each, seconds from writing its POST to the first call the app made to Slack for its
    thread."""
    requests: list[tuple[bytes, dict[str, str]]] = []
    threads: list[str] = []
    for owner in owners:
        channel = payloads.dm_channel_id(owner.user_id)
        event = payloads.direct_message("hello", user_id=owner.user_id, channel=channel)
        body = payloads.event_callback(event, team_id=owner.team_id)
        requests.append((body.encode(), {**payloads.sign(body, SIGNING_SECRET), "content-type": "application/json"}))
        threads.append(event["ts"])
    mark = await calls.count()
    written = await poster.post_all(requests)  # one clock (monotonic) for every process on the machine
    sent = dict(zip(threads, written, strict=True))
    waits: dict[str, float] = {}
    deadline = time.monotonic() + 30
    while len(waits) < len(sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # polled after the burst: the load generator stays out of the way meanwhile
        _, received = await calls.since(mark)
        for method, thread, received_at in received:
            if method in FIRST_METHODS and thread in sent and thread not in waits:
                waits[thread] = received_at - sent[thread]
    if len(waits) < len(sent):
        raise RuntimeError(f"only {len(waits)} of {len(sent)} threads got a first byte within 30 s")
    return list(waits.values())


async def first_byte() -> Row:
    """The app, the bare app, the fake Slack and the fake model each in a process of their own: the load generator
    only sends the DMs (the fakes serving 50 streamed turns would otherwise slow the clock they are timed by)."""
    plugboard: list[float] = []
    bare: list[float] = []
    with tempfile.TemporaryDirectory(prefix="plugboard-bench-assistant-") as tmp:
        root = Path(tmp)
        policy = root / "policy.toml"
        policy.write_text(
            policy_toml(mode="trusted", extra="[assistant]\nturns_per_minute = 1000\nconcurrent_turns = 100\n")
        )
        async with (
            fake_slack_process(root) as (api_url, bot_token, sink_url, slack_process),
            fake_model_process(root) as model_url,
            httpx2.AsyncClient(timeout=30) as http,
        ):
            key = new_encryption_key()
            app_port, bare_port = free_port(), free_port()
            env = app_env(
                root / "data",
                policy,
                api_url=api_url,
                bot_token=bot_token,
                port=app_port,
                key=key,
                **_llm_env(model_url),
            )
            app = await AppProcess.spawn(env, REPO_ROOT, app_port)
            bare_env = {**env, "PORT": str(bare_port)}
            baseline = await AppProcess.spawn(bare_env, REPO_ROOT, bare_port, argv=("-m", "bench.bare_assistant"))
            try:
                calls = SlackCalls(http, sink_url)
                await app.wait_healthy(http)
                await baseline.wait_healthy(http)
                owners = [Owner(team_id=payloads.TEAM_ID, user_id=f"U{i:07d}") for i in range(THREADS)]
                to_app, to_bare = RawPoster(f"{app.url}/slack/events"), RawPoster(f"{baseline.url}/slack/events")
                await _burst(to_app, calls, owners[:5])  # warm-up: tokenizer, connections
                await _burst(to_bare, calls, owners[:5])
                for _ in range(ROUNDS):
                    plugboard += await _burst(to_app, calls, owners)
                    bare += await _burst(to_bare, calls, owners)
            finally:
                await app.reap()
                await baseline.reap()
            problems = await stop_fake_slack(slack_process)
            if problems:
                raise RuntimeError(f"the apps broke {problems} of Slack's rules")
    ours, theirs = percentile(plugboard, 0.99) * 1000, percentile(bare, 0.99) * 1000
    return Row(
        f"assistant: DM → first byte to Slack, p99, {THREADS} threads at once",
        f"bare Bolt {theirs:.1f} ms",
        f"{ours:.1f} ms",
        f"{ratio(ours, theirs):.2f}x",
        f"< {FIRST_BYTE_GOAL_MS:.0f} ms",
        ours < FIRST_BYTE_GOAL_MS,
    )


async def tool_call_overhead() -> Row:
    with tempfile.TemporaryDirectory(prefix="plugboard-bench-toolbox-") as tmp:
        root = Path(tmp)
        policy = root / "policy.toml"
        policy.write_text(policy_toml(mode="trusted"))
        settings = Settings(
            _env_file=None,
            slack_bot_token=SecretStr("xoxb-bench"),
            slack_signing_secret=SecretStr(SIGNING_SECRET),
            plugboard_data_dir=root / "data",
            plugboard_policy_file=policy,
        )
        core = await build_core(settings)
        try:
            owner = Owner(team_id=payloads.TEAM_ID, user_id="U0BENCH1")
            config = {"mcpServers": {"tiny": {"command": sys.executable, "args": [TINY_SERVER]}}}
            await _add_and_start(core, owner, config)
            thread = ThreadRef("D0BENCH", "1.000001")
            catalog = ConversationTools(core.tools, core.tool_policy, ApprovalModeRepository(core.db))
            turn = TurnContext(owner, thread, conversation_key(owner, thread), None, _quiet, _quiet_step)
            toolbox = ThreadToolBox(catalog, core.tools, turn)
            schema = await toolbox.find("tiny__add")
            assert schema is not None
            arguments = {"a": 2, "b": 40}
            through_assistant: list[float] = []
            through_service: list[float] = []
            for i in range(TOOL_CALLS + 20):
                started = time.perf_counter()
                assert not _schema_problems(schema.agent_tool.input_schema, arguments)
                await toolbox.call("tiny__add", arguments)
                middle = time.perf_counter()
                await core.tools.call(owner, "tiny", "add", json.dumps(arguments))
                ended = time.perf_counter()
                if i >= 20:  # warm-up
                    through_assistant.append(middle - started)
                    through_service.append(ended - middle)
        finally:
            await core.close()
    ours, theirs = median(through_assistant) * 1000, median(through_service) * 1000
    return Row(
        f"assistant: tool call p50 ({TOOL_CALLS}, interleaved)",
        f"ToolService.call {theirs:.2f} ms",
        f"{ours:.2f} ms",
        f"{ratio(ours, theirs):.2f}x",
        f"≤ {TOOL_CALL_GOAL:.2f}x",
        ratio(ours, theirs) <= TOOL_CALL_GOAL,
    )


async def _quiet(_: str) -> None:
    """Statuses go to Slack without waiting (see SlackTurnView.status); here there is no Slack."""


async def _quiet_step(_: Step) -> None:
    """No progress to show: the tiny server sends none."""


async def _add_and_start(core: Core, owner: Owner, config: dict[str, Any]) -> None:
    proposed = await core.servers.propose_adds(owner, parse_server_map(json.dumps(config)))
    for change in proposed:
        await core.servers.confirm(owner, change.id)
    await core.tools.catalog(owner)  # first use starts the server and lists its tools


async def run() -> list[Row]:
    return [await tool_call_overhead(), await first_byte()]


if __name__ == "__main__":
    print(table(asyncio.run(run())))
    print(f"load average {os.getloadavg()}")
