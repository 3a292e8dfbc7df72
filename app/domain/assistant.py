"""The assistant's nouns: where a conversation lives, who it belongs to, and a call waiting for approval."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from app.domain.owner import Owner

ApprovalState = Literal["pending", "approved", "denied", "expired", "superseded"]
ApprovalMode = Literal["ask", "always"]
APPROVAL_MINUTES = 30


@dataclass(frozen=True)
class ThreadRef:
    """A Slack thread: the conversation's channel and its root message."""

    channel_id: str
    thread_ts: str

    @property
    def in_dm(self) -> bool:
        return self.channel_id.startswith("D")

    @property
    def link(self) -> str:
        """The thread's permalink shape (the audit log names it; Slack redirects it to the workspace)."""
        return f"https://slack.com/archives/{self.channel_id}/p{self.thread_ts.replace('.', '')}"


def conversation_key(owner: Owner, thread: ThreadRef) -> str:
    """One conversation per person per thread: in a channel thread each person talks with their own tools."""
    raw = f"{owner.id}|{thread.channel_id}|{thread.thread_ts}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PendingApproval:
    id: str
    batch_id: str
    conversation: str
    owner: Owner
    thread: ThreadRef
    call_id: str
    tool_name: str
    state: ApprovalState
    created_at: float
    expires_at: float
    message_ts: str | None = None

    def expired(self, now: float) -> bool:
        return now >= self.expires_at


StepState = Literal["running", "done", "failed", "denied"]


@dataclass(frozen=True)
class Step:
    """One tool call as the thread shows it."""

    call_id: str
    tool_name: str
    state: StepState
    duration_ms: int = 0
    truncated_chars: int = 0
    note: str | None = None


@dataclass(frozen=True)
class ApprovalAsk:
    """What the person sees before a call runs: the tool, its arguments (secret-looking values masked), why."""

    approval_id: str
    tool_name: str
    arguments_preview: str
    reason: str
