"""How a stored catalog tool gets its policy state: only a decision made for that very definition counts."""

from __future__ import annotations

from app.domain.tool_policy import StoredDecision, ToolDecision
from app.runtime.tool_registry import stored_decision


def test_a_decision_made_for_the_same_definition_stands() -> None:
    stored = StoredDecision("denied", "pin-1", "denied by you")
    assert stored_decision("lookup", "pin-1", stored) == ToolDecision(
        "lookup", "denied", "pin-1", "denied by you", False
    )


def test_a_decision_made_for_another_definition_reads_as_held() -> None:
    stored = StoredDecision("allowed", "pin-1", "allowed by you")
    decision = stored_decision("lookup", "pin-2", stored)
    assert decision is not None and decision.state == "held" and decision.pin == "pin-2" and decision.changed


def test_no_stored_decision_means_none() -> None:
    assert stored_decision("lookup", "pin-1", None) is None
