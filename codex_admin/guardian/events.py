"""What a review reports while it runs: assessment events and warnings, through a callback.

The guardian never prints and never imports telemetry: it calls the ``on_event`` callback the
caller passed with one of these plain values. The agent turns them into its own events; the
telemetry package exports the terminal assessment as ``codex.guardian.review`` (every field that
event takes is here: ids, status, risk, authorization, outcome, rule, failure reason, model,
durations, token usage, the truncation flag).

* :class:`AssessmentEvent` -- once with status ``in_progress`` when a review starts, once more
  with its terminal status (``approved`` | ``denied`` | ``timed_out`` | ``aborted``). The
  ``action`` is a summary: a patch appears as its cwd and files only, never its text.
* :class:`GuardianWarning` -- what a human should see: the decision line ("Automatic approval
  review denied (risk: high, authorization: unknown): ..."), a retry, a timeout, the circuit
  breaker interrupting the turn, a failed review approved because requirements allow failing
  open (``fail_open``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AssessmentEvent", "EventSink", "GuardianEvent", "GuardianWarning"]


@dataclass(frozen=True)
class AssessmentEvent:
    id: str  # the review id (uuid4)
    status: str  # in_progress | approved | denied | timed_out | aborted
    action: dict[str, Any]
    action_kind: str  # shell | apply_patch | network_access
    started_at_ms: int
    thread_id: str | None = None
    turn_id: str | None = None
    target_item_id: str | None = None
    completed_at_ms: int | None = None
    risk_level: str | None = None
    user_authorization: str | None = None
    outcome: str | None = None
    rationale: str | None = None
    decided_by: str | None = None  # deterministic | model | fail_closed | fail_open
    rule: str | None = None
    failure_reason: str = "none"
    model: str | None = None
    reasoning_effort: str | None = None
    duration_ms: float | None = None
    ttft_ms: float | None = None
    action_truncated: bool = False
    usage: dict[str, int] | None = None
    decision_source: str = "agent"
    type: str = field(default="guardian_assessment", init=False)

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items()}


@dataclass(frozen=True)
class GuardianWarning:
    review_id: str | None
    kind: str  # decision | retry | timeout | circuit_breaker | fail_open
    message: str
    turn_id: str | None = None
    type: str = field(default="guardian_warning", init=False)

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items()}


GuardianEvent = AssessmentEvent | GuardianWarning
EventSink = Callable[[GuardianEvent], None]
