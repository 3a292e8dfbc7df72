"""What one turn of the assistant yields, in order, for the service to store and the Slack edge to render."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

StepStatus = Literal["done", "failed", "denied"]


@dataclass(frozen=True)
class TextDelta:
    """More of the answer's text (markdown), to append as it arrives."""

    text: str


@dataclass(frozen=True)
class ToolStarted:
    call_id: str
    tool_name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolFinished:
    call_id: str
    tool_name: str
    status: StepStatus
    duration_ms: int = 0
    truncated_chars: int = 0
    # Why it failed or was denied, in words fit for the person (never a stack trace).
    error: str | None = None


@dataclass(frozen=True)
class PendingCall:
    call_id: str
    tool_name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ApprovalNeeded:
    """The turn stopped before these calls: ask the person, then resume with their decisions."""

    calls: tuple[PendingCall, ...]


@dataclass(frozen=True)
class TurnDone:
    """The turn ended (answered, or paused on `ApprovalNeeded`). `history` is the whole conversation, to store
    and give back on the next turn; `pending` is non-empty when it paused for approval."""

    history: bytes
    text: str
    pending: tuple[PendingCall, ...] = ()
    usage: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TurnFailed:
    """The model could not answer (provider error, timeout, too many tool calls): one clear line for the person.
    `history` is what to keep (the conversation before this turn, plus the person's message, any calls that ran, and
    a note that the turn failed), or None when the run never started: then keep the history you had."""

    message: str
    retryable: bool = True
    history: bytes | None = None


TurnEvent = TextDelta | ToolStarted | ToolFinished | ApprovalNeeded | TurnDone | TurnFailed


@dataclass(frozen=True)
class Decision:
    """The person's answer to one pending call."""

    approved: bool
    # Said to the model on a denial ("the user denied this call", "the approval expired", "superseded").
    reason: str = "the user denied this call"
