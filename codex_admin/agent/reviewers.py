"""The reviewers that answer approval requests, and their answers (spec runtime §7.1).

The reviewer replaces the human at an approval boundary (:mod:`.approvals`) and never widens
anything on its own: it answers one concrete request with a :class:`Review`.

Reviewers: :class:`RefusingReviewer` (headless `codex exec` with the ``user`` reviewer: nobody
can answer, so every request is refused with Codex's message), the guardian auto-reviewer
(``approvals_reviewer = "auto_review"``, :mod:`.guardian_reviewer`), and -- for interactive
front-ends -- a reviewer that asks the human through the session's event/submission channels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: the requests load with the first one (start-up)
    from codex_admin.agent.approvals import ApprovalRequest, ReviewContext

__all__ = [
    "DecisionSource",
    "RefusingReviewer",
    "Review",
    "ReviewDecision",
    "Reviewer",
    "TurnAborted",
]


class TurnAborted(Exception):
    """A reviewer stopped the whole turn (the guardian's circuit breaker); ``str()`` says why."""


class ReviewDecision(StrEnum):
    APPROVED = "approved"
    APPROVED_FOR_SESSION = "approved_for_session"
    DENIED = "denied"
    TIMED_OUT = "timed_out"
    ABORT = "abort"

    @property
    def approved(self) -> bool:
        return self in (ReviewDecision.APPROVED, ReviewDecision.APPROVED_FOR_SESSION)


class DecisionSource(StrEnum):
    """Who decided (the `source` of `codex.tool_decision`)."""

    CONFIG = "config"
    USER = "user"
    AUTOMATED_REVIEWER = "automated_reviewer"


@dataclass(frozen=True)
class Review:
    """A reviewer's answer. ``message`` is what the model is told when it is not approved."""

    decision: ReviewDecision
    source: DecisionSource
    message: str | None = None
    rationale: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Reviewer(Protocol):
    async def review(self, request: ApprovalRequest, context: ReviewContext) -> Review: ...


_REFUSED = {
    "shell": "exec command rejected by user",
    "apply_patch": "patch rejected by user",
    "network_access": "network access rejected by user",
}


class RefusingReviewer:
    """No one can answer (headless run, ``user`` reviewer): refuse with Codex's message."""

    async def review(self, request: ApprovalRequest, context: ReviewContext) -> Review:
        return Review(ReviewDecision.DENIED, DecisionSource.USER, message=_REFUSED[request.kind])
