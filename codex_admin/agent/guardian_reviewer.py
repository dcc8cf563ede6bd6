"""The guardian auto-reviewer behind the agent's :class:`~codex_admin.agent.reviewers.Reviewer`.

With ``approvals_reviewer = "auto_review"`` under ``on-request`` (or a granular policy), the
guardian answers the approval requests a human would otherwise see. This module only
translates: an approval request and the thread's history become the guardian's plain-data
request; its verdict becomes a :class:`Review`. A tripped circuit breaker ends the turn
(:class:`TurnAborted`). Network allow-list misses do not come through here: the session proxy
asks :class:`~codex_admin.guardian.NetworkGate` directly, with the command that is running as
the trigger (:func:`network_decider`).

:class:`GuardianEvents` is the guardian's ``on_event`` for a session: every warning it gives
(the decision line, a retry, a timeout, the circuit breaker, a review that failed open) reaches
the user as a session warning -- an ``error`` item in `codex exec --json`, a ``warning:`` line
in human mode -- and assessments go on to telemetry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from codex_admin.agent.approvals import ApprovalRequest, ReviewContext
from codex_admin.agent.reviewers import DecisionSource, Review, ReviewDecision, TurnAborted
from codex_admin.agent.transcript import transcript_entries
from codex_admin.guardian import (
    EventSink,
    GuardianEvent,
    GuardianWarning,
    NetworkContext,
    NetworkGate,
    ReviewStatus,
    parse_request,
    parse_transcript,
)
from codex_admin.vocabulary import SandboxMode

if TYPE_CHECKING:
    from codex_admin.guardian import Guardian

__all__ = ["GuardianEvents", "GuardianReviewer", "network_decider"]

_DECISION = {
    ReviewStatus.APPROVED: ReviewDecision.APPROVED,
    ReviewStatus.DENIED: ReviewDecision.DENIED,
    ReviewStatus.TIMED_OUT: ReviewDecision.TIMED_OUT,
    ReviewStatus.ABORTED: ReviewDecision.ABORT,
}


class GuardianEvents:
    """The guardian's ``on_event``: warnings to the user, everything to telemetry (if any).

    The guardian is built before the session that shows its warnings, so :meth:`attach` binds
    the session's ``warn`` later; a warning given before that is held and shown on attach.
    """

    def __init__(self, telemetry: EventSink | None = None) -> None:
        self._telemetry = telemetry
        self._warn: Callable[[str], None] | None = None
        self._held: list[str] = []

    def attach(self, warn: Callable[[str], None]) -> None:
        self._warn = warn
        held, self._held = self._held, []
        for message in held:
            warn(message)

    def __call__(self, event: GuardianEvent) -> None:
        if self._telemetry is not None:
            self._telemetry(event)
        if not isinstance(event, GuardianWarning):
            return
        if self._warn is None:
            self._held.append(event.message)
        else:
            self._warn(event.message)


class GuardianReviewer:
    """A :class:`Reviewer` that asks the guardian (one per session)."""

    def __init__(self, guardian: Guardian) -> None:
        self.guardian = guardian

    async def review(self, request: ApprovalRequest, context: ReviewContext) -> Review:
        action = request.to_json()
        retry = action.pop("retry_reason", None)
        data: dict[str, Any] = {
            "action": action,
            "transcript": transcript_entries(context.transcript),
            "sandbox_mode": context.sandbox_mode,
            "thread_id": context.thread_id,
            "turn_id": context.turn_id,
        }
        if retry:
            data["retry_reason"] = retry
        verdict = await self.guardian.review(parse_request(data, where="approval request"))
        if verdict.interrupt_turn:
            raise TurnAborted(
                verdict.message
                or "automatic approval review denied too many actions; the turn was stopped"
            )
        return Review(
            _DECISION[verdict.status],
            DecisionSource.AUTOMATED_REVIEWER,
            message=verdict.message,
            rationale=verdict.rationale,
            details=verdict.to_json(),
        )


def network_decider(
    guardian: Guardian,
    running: Callable[[], Sequence[tuple[str, ...]]],
    history: Callable[[], Sequence[dict[str, Any]]],
    sandbox_mode: SandboxMode,
    thread_id: str,
) -> Callable[[str, int, str], Awaitable[tuple[str, str]]]:
    """The proxy's allow-list-miss decider for an auto-reviewed session.

    ``running`` lists the commands running right now: with one, it is the trigger the reviewer
    judges; with several, they are the candidate triggers (spec §1.3).
    """
    gate = NetworkGate(guardian)

    def context() -> NetworkContext:
        commands = tuple(running())
        trigger = commands[0] if len(commands) == 1 else None
        return NetworkContext(
            trigger=trigger,
            possible_triggers=commands if len(commands) > 1 else (),
            transcript=parse_transcript(transcript_entries(history()), where="network review"),
            thread_id=thread_id,
            sandbox_mode=sandbox_mode,
        )

    return gate.decider(context)
