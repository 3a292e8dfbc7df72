"""A fake OpenAI-compatible Chat Completions server for the assistant's tests (real HTTP on loopback).

Use it as::

    async with FakeModel() as model:
        model.script(ToolCalls(Call("notes__search", {"q": "x"})), Reply("Found it."))
        config = ModelConfig(provider="openai", model="fake-model", api_key="k", base_url=model.base_url)
        ...
        assert model.requests[0].tool_names == ["notes__search"]

Each `POST /v1/chat/completions` takes the next scripted step (or asks `responder(request)` when the script is
empty) and answers it exactly as the OpenAI API does (reference assistant.md §3): server-sent events when the
request says `stream: true` — one `chat.completion.chunk` per piece, the usage chunk with `choices: []`, then
`data: [DONE]` — or one `chat.completion` JSON body otherwise. Every request is recorded (headers and JSON body),
so tests can check which tools were offered, what tool results the model was sent and which key was used.
A request with nothing to answer gets HTTP 500 and lands in `problems`, so a test that under-scripts fails loudly.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.loopback import serve_aiohttp

# Steps: what the fake answers to one request.


@dataclass(frozen=True)
class Reply:
    """A text answer, streamed in `pieces` deltas (the first one in the same chunk as the role, like OpenAI)."""

    text: str
    pieces: int = 3


@dataclass(frozen=True)
class Call:
    """One tool call; `arguments` is sent as JSON (or as given, when a string: for malformed-argument tests)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    call_id: str | None = None


@dataclass(frozen=True)
class ToolCalls:
    """One or more (parallel) tool calls, each call's arguments streamed in several pieces."""

    calls: tuple[Call, ...]

    def __init__(self, *calls: Call) -> None:
        object.__setattr__(self, "calls", tuple(calls))


@dataclass(frozen=True)
class HttpError:
    """An HTTP error response with an OpenAI-shaped error body."""

    status: int = 500
    message: str = "The server had an error while processing your request."


@dataclass(frozen=True)
class Hang:
    """Accept the request and never answer (until the fake closes): for timeout tests."""


@dataclass(frozen=True)
class StreamError:
    """Start streaming `text_before`, then send an SSE `{"error": ...}` event and end the stream."""

    text_before: str = "Let me"
    message: str = "The model crashed mid-stream."


Step = Reply | ToolCalls | HttpError | Hang | StreamError


@dataclass(frozen=True)
class ModelCall:
    """One recorded request to the fake."""

    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def authorization(self) -> str:
        return self.headers.get("Authorization", "")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def tool_names(self) -> list[str]:
        """The function names offered to the model in this request, in order."""
        return [tool["function"]["name"] for tool in self.body.get("tools", [])]

    def tool_schema(self, name: str) -> dict[str, Any]:
        for tool in self.body.get("tools", []):
            if tool["function"]["name"] == name:
                return dict(tool["function"].get("parameters", {}))
        raise KeyError(name)

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        """The `role: tool` messages the model was sent (`tool_call_id`, `content`), oldest first."""
        return [m for m in self.messages if m.get("role") == "tool"]

    def tool_result_for(self, call_id: str) -> str:
        for message in self.tool_results:
            if message.get("tool_call_id") == call_id:
                content = message.get("content")
                return content if isinstance(content, str) else json.dumps(content)
        raise KeyError(call_id)

    @property
    def user_texts(self) -> list[str]:
        texts: list[str] = []
        for message in self.messages:
            if message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts.extend(str(part.get("text", "")) for part in content if isinstance(part, dict))
        return texts


Responder = Callable[[ModelCall], Step]


def call_tool_then_answer(name: str, arguments: dict[str, Any], answer: str) -> Responder:
    """A responder for load tests: call `name` once, then answer `answer` after seeing the tool's result."""

    def respond(request: ModelCall) -> Step:
        if request.messages and request.messages[-1].get("role") == "tool":
            return Reply(answer)
        return ToolCalls(Call(name, arguments))

    return respond


class FakeModel:
    """The fake on `127.0.0.1:<ephemeral port>`; `base_url` ends in `/v1` like OpenAI's.

    `zero_latency=True` (for the bench) writes each answer in one go instead of one write per chunk, so the fake
    adds as little as it can to what is measured; by default every chunk is its own write, so the client really
    sees a stream in pieces.
    """

    def __init__(self, *, responder: Responder | None = None, zero_latency: bool = False, model: str = "fake-model"):
        self.responder = responder
        self.zero_latency = zero_latency
        self.model_name = model
        self.requests: list[ModelCall] = []
        self.problems: list[str] = []
        self._script: list[Step] = []
        self._ids = itertools.count(1)
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> FakeModel:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        self._runner, root = await serve_aiohttp(app)
        self.base_url = f"{root}/v1"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing.set()  # releases any `Hang` handler so cleanup does not wait on it
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def script(self, *steps: Step) -> None:
        """Queue answers for the next requests, in order."""
        self._script.extend(steps)

    @property
    def unused_steps(self) -> Sequence[Step]:
        return tuple(self._script)

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        recorded = ModelCall(headers=dict(request.headers), body=body)
        self.requests.append(recorded)
        step = self._next_step(recorded)
        if step is None:
            self.problems.append(f"request {len(self.requests)} had no scripted answer")
            return _error_response(500, "fake model: no scripted answer for this request")
        if isinstance(step, HttpError):
            return _error_response(step.status, step.message)
        if isinstance(step, Hang):
            await self._closing.wait()
            return _error_response(503, "fake model closed while hanging")
        completion_id = f"chatcmpl-{next(self._ids)}"
        if not body.get("stream"):
            return web.json_response(self._completion(completion_id, step))
        return await self._stream(request, completion_id, step)

    def _next_step(self, request: ModelCall) -> Step | None:
        if self._script:
            return self._script.pop(0)
        if self.responder is not None:
            return self.responder(request)
        return None

    def _chunk(self, completion_id: str, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": self.model_name,
            "choices": choices,
            **extra,
        }

    def _events(self, completion_id: str, step: Reply | ToolCalls | StreamError) -> list[dict[str, Any]]:
        def delta(content: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return self._chunk(completion_id, [{"index": 0, "delta": content, "finish_reason": finish}])

        if isinstance(step, StreamError):
            return [
                delta({"role": "assistant", "content": step.text_before}),
                {"error": {"message": step.message, "type": "server_error", "code": None}},
            ]
        if isinstance(step, Reply):
            pieces = _split(step.text, step.pieces)
            events = [delta({"role": "assistant", "content": pieces[0]})]
            events += [delta({"content": piece}) for piece in pieces[1:]]
            finish = "stop"
        else:
            events = []
            for index, call in enumerate(step.calls):
                call_id = call.call_id or f"call_{completion_id.rsplit('-', 1)[-1]}_{index}"
                arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
                function = {"name": call.name, "arguments": ""}
                first = {"index": index, "id": call_id, "type": "function", "function": function}
                head: dict[str, Any] = {"tool_calls": [first]}
                if index == 0:
                    head = {"role": "assistant", "content": None, **head}
                events.append(delta(head))
                events += [
                    delta({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                    for piece in _split(arguments, 3)
                    if piece
                ]
            finish = "tool_calls"
        events.append(delta({}, finish))
        events.append(self._chunk(completion_id, [], usage=_USAGE))
        return events

    async def _stream(
        self, request: web.Request, completion_id: str, step: Reply | ToolCalls | StreamError
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        lines = [f"data: {json.dumps(event)}\n\n".encode() for event in self._events(completion_id, step)]
        if not isinstance(step, StreamError):
            lines.append(b"data: [DONE]\n\n")
        if self.zero_latency:
            await response.write(b"".join(lines))
        else:
            for line in lines:
                await response.write(line)
                await asyncio.sleep(0)  # let each chunk go out on its own
        await response.write_eof()
        return response

    def _completion(self, completion_id: str, step: Reply | ToolCalls | StreamError) -> dict[str, Any]:
        if isinstance(step, StreamError):
            return {"error": {"message": step.message, "type": "server_error", "code": None}}
        message: dict[str, Any] = {"role": "assistant", "content": None}
        if isinstance(step, Reply):
            message["content"] = step.text
            finish = "stop"
        else:
            message["tool_calls"] = [
                {
                    "id": call.call_id or f"call_{completion_id.rsplit('-', 1)[-1]}_{index}",
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments),
                    },
                }
                for index, call in enumerate(step.calls)
            ]
            finish = "tool_calls"
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": 1700000000,
            "model": self.model_name,
            "choices": [{"index": 0, "finish_reason": finish, "message": message}],
            "usage": _USAGE,
        }


_USAGE = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}


def _split(text: str, pieces: int) -> list[str]:
    """`text` in up to `pieces` consecutive non-empty parts (one empty part for empty text)."""
    if not text:
        return [""]
    size = max(1, -(-len(text) // max(1, pieces)))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _error_response(status: int, message: str) -> web.Response:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return web.json_response({"error": {"message": message, "type": kind, "code": None}}, status=status)


class FakeAnthropic:
    """A text-only fake of Anthropic's streamed `POST /v1/messages`, for a smoke test of the other provider.

    Answers every request with `answer` as `message_start` … `content_block_delta` × n … `message_stop` events and
    records the requests like `FakeModel`. `base_url` has no `/v1` (the Anthropic SDK adds it).
    """

    def __init__(self, answer: str, *, pieces: int = 2) -> None:
        self.answer = answer
        self.pieces = pieces
        self.requests: list[ModelCall] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> FakeAnthropic:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        self._runner, self.base_url = await serve_aiohttp(app)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(ModelCall(headers=dict(request.headers), body=body))
        message = {
            "id": f"msg_{len(self.requests)}",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": body.get("model", "claude"),
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        }
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": message}),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
        ]
        events += [
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
            )
            for piece in _split(self.answer, self.pieces)
        ]
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 5},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for name, data in events:
            await response.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        await response.write_eof()
        return response
