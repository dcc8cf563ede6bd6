"""Approval requests and the reviewers that answer them (spec runtime §7.1).

A tool call reaches a reviewer only at an approval boundary the policy defines: an execpolicy
``prompt`` rule, a command asking to run outside the sandbox (``require_escalated``), a retry
without the sandbox after a denial (``on-failure``), a patch writing outside the writable roots,
or a network host outside the allow list. The reviewer replaces the human at that boundary and
never widens anything on its own: it answers one concrete request.

Reviewers: :class:`RefusingReviewer` (headless `codex exec` with the ``user`` reviewer: nobody
can answer, so every request is refused with Codex's message), the guardian auto-reviewer
(``approvals_reviewer = "auto_review"``), and -- for interactive front-ends -- a reviewer that
asks the human through the session's event/submission channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from codex_admin.vocabulary import SandboxPermissions

__all__ = [
    "ApprovalRequest",
    "DecisionSource",
    "NetworkApproval",
    "PatchApproval",
    "RefusingReviewer",
    "Review",
    "ReviewContext",
    "ReviewDecision",
    "Reviewer",
    "ShellApproval",
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
class ShellApproval:
    """A command that needs approval: why, and with which permissions it wants to run."""

    argv: tuple[str, ...]
    cwd: Path
    reason: str
    sandbox_permissions: SandboxPermissions = SandboxPermissions.USE_DEFAULT
    justification: str | None = None
    prefix_rule: tuple[str, ...] | None = None
    retry_reason: str | None = None
    kind: str = field(init=False, default="shell")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.kind,
            "command": list(self.argv),
            "cwd": str(self.cwd),
            "sandbox_permissions": self.sandbox_permissions.value,
        }
        if self.justification:
            data["justification"] = self.justification
        if self.retry_reason:
            data["retry_reason"] = self.retry_reason
        return data


@dataclass(frozen=True)
class PatchApproval:
    """A patch that writes where the sandbox would not let a command write."""

    cwd: Path
    files: tuple[str, ...]
    patch: str
    reason: str
    kind: str = field(init=False, default="apply_patch")

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "cwd": str(self.cwd),
            "files": list(self.files),
            "patch": self.patch,
        }


@dataclass(frozen=True)
class NetworkApproval:
    """A connection to a host outside the network allow list."""

    host: str
    protocol: str
    port: int
    trigger: tuple[str, ...] | None = None
    kind: str = field(init=False, default="network_access")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.kind,
            "host": self.host,
            "protocol": self.protocol,
            "port": self.port,
        }
        if self.trigger:
            data["trigger"] = list(self.trigger)
        return data


ApprovalRequest = ShellApproval | PatchApproval | NetworkApproval


@dataclass(frozen=True)
class Review:
    """A reviewer's answer. ``message`` is what the model is told when it is not approved."""

    decision: ReviewDecision
    source: DecisionSource
    message: str | None = None
    rationale: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewContext:
    """What a reviewer may look at: the thread, the turn, and the transcript so far."""

    thread_id: str
    turn_id: str
    transcript: Sequence[dict[str, Any]] = ()
    sandbox_mode: str = "read-only"


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
