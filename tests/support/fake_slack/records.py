"""What the fake Slack records and the rules' limits: constants, `Call`, `UploadedFile`, stored state."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

TRIGGER_TTL_SECONDS = 3.0
RESPONSE_URL_TTL_SECONDS = 30 * 60.0
RESPONSE_URL_MAX_USES = 5
MODAL_STACK_MAX = 3
UPLOAD_CHANNEL_ID_RE = re.compile(r"^[CGDZ][A-Z0-9]{8,}$")
USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
CONVERSATION_ID_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")
JSON_PARAMS = ("view", "blocks", "attachments", "files", "metadata", "message")

SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Slack</title></head>"
    "<body><h1>Sign in to Plugboard Test</h1><form action='/signin'></form></body></html>"
)

Handler = Callable[[dict[str, Any]], "dict[str, Any] | Awaitable[dict[str, Any]]"]


@dataclass
class Call:
    """One request the fake received.

    Web API calls carry the JSON answer in ``response`` (so ``ok``/``error`` work). The other routes
    (``"upload"``, ``"download"``, ``"response_url"``) have ``response=None``: look at ``status`` instead.
    """

    method: str
    params: dict[str, Any]
    headers: dict[str, str]  # lower-cased names
    http_method: str = "POST"
    path: str = ""
    response: dict[str, Any] | None = None  # the JSON we answered (Web API calls only)
    status: int = 200
    received_at: float = field(default_factory=time.monotonic)  # when it arrived (benchmarks time first bytes)
    peer: str = ""  # the client's "host:port" (response_url answers): which connection the app sent it on

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return None if self.response is None or self.response.get("ok") else self.response.get("error")


@dataclass
class UploadedFile:
    """A file the app shared through ``files.getUploadURLExternal`` → upload → ``completeUploadExternal``."""

    file_id: str
    filename: str
    title: str | None
    content: bytes
    channel_id: str | None
    initial_comment: str | None = None
    thread_ts: str | None = None

    @property
    def text(self) -> str:
        return self.content.decode()


@dataclass
class Trigger:
    issued_at: float
    user_id: str
    used: bool = False


@dataclass
class ResponseUrl:
    issued_at: float
    uses: int = 0


@dataclass
class StoredFile:
    obj: dict[str, Any]
    content: bytes


@dataclass
class PendingUpload:
    file_id: str
    filename: str
    length: int
    token: str
    content: bytes | None = None


@dataclass
class Failure:
    error: str
    times: int
    extra: dict[str, Any] = field(default_factory=dict)


def api_error(error: str, messages: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error": error}
    if messages:
        body["response_metadata"] = {"messages": messages}
    return body


def public_message(message: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in message.items() if k not in ("channel", "ephemeral_user")}


def guess_mimetype(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return {
        "json": "application/json",
        "txt": "text/plain",
        "md": "text/markdown",
        "csv": "text/csv",
        "png": "image/png",
    }.get(ext, "application/octet-stream")
