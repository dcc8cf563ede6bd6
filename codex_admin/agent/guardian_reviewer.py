"""The guardian auto-reviewer behind the agent's :class:`~codex_admin.agent.approvals.Reviewer`.

With ``approvals_reviewer = "auto_review"`` under ``on-request`` (or a granular policy), the
guardian answers the approval requests a human would otherwise see. This module only
translates: an approval request and the thread's history become the guardian's plain-data
request; its verdict becomes a :class:`Review`. A tripped circuit breaker ends the turn
(:class:`TurnAborted`). Network allow-list misses do not come through here: the session proxy
asks :class:`~codex_admin.guardian.NetworkGate` directly, with the command that is running as
the trigger (:func:`network_decider`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from codex_admin.agent.approvals import (
    ApprovalRequest,
    DecisionSource,
    Review,
    ReviewContext,
    ReviewDecision,
    TurnAborted,
)
from codex_admin.agent.transcript import transcript_entries
from codex_admin.guardian import (
    NetworkContext,
    NetworkGate,
    ReviewStatus,
    parse_request,
    parse_transcript,
)
from codex_admin.vocabulary import SandboxMode

if TYPE_CHECKING:
    from codex_admin.guardian import Guardian

__all__ = ["GuardianReviewer", "network_decider"]

_DECISION = {
    ReviewStatus.APPROVED: ReviewDecision.APPROVED,
    ReviewStatus.DENIED: ReviewDecision.DENIED,
    ReviewStatus.TIMED_OUT: ReviewDecision.TIMED_OUT,
    ReviewStatus.ABORTED: ReviewDecision.ABORT,
}


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
