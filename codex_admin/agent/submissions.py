"""The agent core's input channel: what a front-end may submit to a session.

* :class:`UserInput` starts a turn (queued while one runs);
* :class:`Interrupt` cancels the running turn: its command process groups are killed, open
  items end ``failed``, and the turn ends with ``turn.failed`` (interrupted);
* :class:`ApprovalAnswer` answers an :class:`ApprovalRequested` event (interactive reviewers);
* :class:`Shutdown` ends the session after the running turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codex_admin.agent.events import Event
from codex_admin.agent.reviewers import ReviewDecision

__all__ = [
    "ApprovalAnswer",
    "ApprovalRequested",
    "Interrupt",
    "Shutdown",
    "Submission",
    "UserInput",
]


@dataclass(frozen=True)
class UserInput:
    """A user message; ``images`` are Responses ``input_image`` parts to attach."""

    text: str
    images: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class Interrupt:
    """Stop the running turn and kill its commands."""


@dataclass(frozen=True)
class ApprovalAnswer:
    """A front-end's answer to an :class:`ApprovalRequested` event."""

    request_id: str
    decision: ReviewDecision


@dataclass(frozen=True)
class Shutdown:
    """End the session once the inputs submitted before it have run."""


Submission = UserInput | Interrupt | ApprovalAnswer | Shutdown


@dataclass(frozen=True)
class ApprovalRequested(Event):
    """A reviewer needs a human answer: reply with :class:`ApprovalAnswer` (same id)."""

    request_id: str = ""
    request: dict[str, Any] = field(default_factory=dict)
    type: str = field(init=False, default="approval.requested")

    def _fields(self) -> dict[str, Any]:
        return {"id": self.request_id, "request": self.request}
