"""The guardian: one per agent session. Deterministic tier first, then the model tier.

:meth:`Guardian.review` turns one :class:`ReviewRequest` into a :class:`Verdict`:

================================  ==========  =============  ========================  ========
case                              status      decided_by     risk / authorization      breaker
================================  ==========  =============  ========================  ========
a deny rule matches               denied      deterministic  the rule's / unknown      counts
an allow rule matches             approved    deterministic  low / unknown             resets
the model allows (thresholds ok)  approved    model          the model's               resets
the model denies, or thresholds   denied      model          the model's               counts
offline (``--offline``)           denied      fail_closed    high / unknown            no
no model tier could be built      denied      fail_closed    high / unknown            no
provider, prompt or parse error   denied      fail_closed    high / unknown            no
deadline passed (after 1 retry)   timed_out   fail_closed    high / unknown            no
``cancel`` set or task cancelled  aborted     fail_closed    high / unknown            no
================================  ==========  =============  ========================  ========

Fail open (``settings.fail_open``, only from requirements' ``allow_guardian_fail_open``): the
three *failure* rows -- no model tier, a provider/prompt/parse error, a missed deadline -- are
approved instead, with ``decided_by: "fail_open"``, risk high / authorization unknown (nothing
was assessed), the failure kept in ``failure_reason`` and the rationale, and a ``fail_open``
warning for the user. Nothing else changes: a rule's or the model's deny stays a deny (it is a
decision, not a failure), an abort stays an abort (someone stopped the review), ``offline`` stays
closed (the caller chose not to ask a model; `codex guardian review --offline` documents
"undecided is denied"), and a tripped circuit breaker still ends the turn (it counts real
denials only). Fail-open approvals do not reset the breaker either.

``message`` tells the agent why it may not proceed: a denial forbids working around the
decision; a timeout says the action was not judged unsafe and may be retried once. When the
circuit breaker trips, ``interrupt_turn`` is set and a warning is emitted: the caller ends the
turn. Every review emits an ``in_progress`` and a terminal :class:`AssessmentEvent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

from codex_admin.errors import CodexError
from codex_admin.guardian.breaker import CircuitBreaker
from codex_admin.guardian.deterministic import DeterministicContext, decide_deterministic
from codex_admin.guardian.events import AssessmentEvent, EventSink, GuardianEvent, GuardianWarning
from codex_admin.guardian.model_tier import ModelAssessment, ModelTier
from codex_admin.guardian.paths import PathEnv
from codex_admin.guardian.request import ReviewRequest
from codex_admin.guardian.rules import RuleTable, builtin_rules
from codex_admin.guardian.settings import GuardianSettings
from codex_admin.guardian.verdict import (
    DecidedBy,
    FailureReason,
    Outcome,
    ReviewStatus,
    RiskLevel,
    UserAuthorization,
    Verdict,
    enforce_thresholds,
)

__all__ = ["Guardian", "ModelTierFactory", "denial_message", "timeout_message"]

ModelTierFactory = Callable[[], Awaitable[ModelTier]]

# The rationale of a failed review starts with one of these; the error follows.
_FAILED = "Automatic approval review failed, so the action is denied: "
_TIMED_OUT = "Automatic approval review timed out: "


def denial_message(rationale: str) -> str:
    """What the agent is told when a review denies its action."""
    return (
        "This action was rejected by the automatic approval reviewer due to unacceptable risk: "
        f"{rationale} Do not try to reach the same result another way: no indirect execution, "
        "no other tool, script, encoding, path or host that gets around this decision or the "
        "policy behind it. Continue only with a materially safer alternative, or stop and ask "
        "the user to approve this exact action explicitly, knowing the risk."
    )


def timeout_message(seconds: float) -> str:
    """What the agent is told when a review missed its deadline (not a denial)."""
    return (
        f"The automatic approval review did not finish within {seconds:g} seconds, so this "
        "action was not run. This does not mean the action was judged unsafe. You may retry the "
        "same request once; if the review times out again, ask the user how to proceed."
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


class Guardian:
    """Reviews approval requests for one session (see the module docstring).

    ``model_tier`` is a ready :class:`ModelTier` or an async factory called on first need (so a
    session whose reviews the deterministic tier decides never resolves credentials); a
    factory that raises :class:`CodexError` makes model-tier reviews fail closed with that
    error. ``offline`` never asks a model.
    """

    def __init__(
        self,
        settings: GuardianSettings,
        *,
        rules: RuleTable | None = None,
        paths: PathEnv | None = None,
        workspace_roots: tuple[str, ...] = (),
        model_tier: ModelTier | ModelTierFactory | None = None,
        offline: bool = False,
        on_event: EventSink | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.settings = settings
        self.rules = rules or builtin_rules()
        self.paths = paths or PathEnv.from_environ()
        self.workspace_roots = workspace_roots
        self.offline = offline
        self.breaker = breaker or CircuitBreaker()
        self._on_event = on_event
        self._tier: ModelTier | None = model_tier if isinstance(model_tier, ModelTier) else None
        self._factory: ModelTierFactory | None = (
            None if isinstance(model_tier, ModelTier) else model_tier
        )
        self._tier_error: str | None = None
        self._tier_lock = asyncio.Lock()

    async def aclose(self) -> None:
        if self._tier is not None:
            await self._tier.aclose()

    async def __aenter__(self) -> Guardian:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -------------------------------------------------------------------------------- events

    def _emit(self, event: GuardianEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def _warn(self, review_id: str | None, turn_id: str | None) -> Callable[[str, str], None]:
        def warn(kind: str, message: str) -> None:
            self._emit(GuardianWarning(review_id, kind, message, turn_id))

        return warn

    # ---------------------------------------------------------------------------------- tiers

    async def _model_tier(self) -> ModelTier | None:
        if self._tier is not None or self._factory is None:
            return self._tier
        async with self._tier_lock:
            if self._tier is None and self._tier_error is None:
                try:
                    self._tier = await self._factory()
                except CodexError as err:
                    self._tier_error = err.message
            return self._tier

    def deterministic_context(self, request: ReviewRequest) -> DeterministicContext:
        roots = self.workspace_roots
        cwd = getattr(request.action, "cwd", None)
        if not roots and isinstance(cwd, str):
            roots = (cwd,)
        return DeterministicContext(self.paths, roots)

    # --------------------------------------------------------------------------------- review

    async def review(
        self, request: ReviewRequest, *, cancel: asyncio.Event | None = None
    ) -> Verdict:
        """Decide one request (see the module docstring). Never raises for model trouble."""
        review_id = str(uuid.uuid4())
        started_ms = _now_ms()
        started = time.monotonic()
        summary = request.action.summary()
        base = AssessmentEvent(
            id=review_id,
            status=ReviewStatus.IN_PROGRESS.value,
            action=summary,
            action_kind=request.action.kind.value,
            started_at_ms=started_ms,
            thread_id=request.thread_id,
            turn_id=request.turn_id,
            target_item_id=request.target_item_id,
        )
        self._emit(base)
        try:
            verdict = await self._decide(review_id, request, cancel)
        except asyncio.CancelledError:
            aborted = self._aborted(review_id, "the review was cancelled")
            self._finish(base, aborted, started)
            raise
        verdict = self._failure_policy(verdict, request)
        verdict = self._apply_breaker(verdict, request)
        verdict = replace(verdict, duration_ms=(time.monotonic() - started) * 1000)
        self._finish(base, verdict, started)
        return verdict

    def _failure_policy(self, verdict: Verdict, request: ReviewRequest) -> Verdict:
        """Fail closed (the default) or, when requirements allow it, open (module docstring)."""
        failed = (
            verdict.decided_by is DecidedBy.FAIL_CLOSED
            and verdict.status in (ReviewStatus.DENIED, ReviewStatus.TIMED_OUT)
            and verdict.failure_reason not in (FailureReason.NONE, FailureReason.CANCELLED)
        )
        if failed and self.settings.fail_open and not self.offline:
            return self._fail_open(verdict, request)
        if verdict.status is ReviewStatus.TIMED_OUT:
            self._warn(verdict.review_id, request.turn_id)("timeout", verdict.message or "")
        return verdict

    def _fail_open(self, failed: Verdict, request: ReviewRequest) -> Verdict:
        source = self.settings.fail_open_source or "requirements"
        error = failed.rationale.removeprefix(_FAILED).removeprefix(_TIMED_OUT).rstrip(".")
        self._warn(failed.review_id, request.turn_id)(
            "fail_open",
            f"Automatic approval review failed ({failed.failure_reason.value}: {error}); the"
            " action was approved WITHOUT review because allow_guardian_fail_open is set"
            f" ({source}).",
        )
        return replace(
            failed,
            status=ReviewStatus.APPROVED,
            outcome=Outcome.ALLOW,
            rationale=(
                "Automatic approval review failed and allow_guardian_fail_open is set, so the"
                f" action is approved without review: {error}"
            ),
            decided_by=DecidedBy.FAIL_OPEN,
            message=None,
        )

    def _finish(self, base: AssessmentEvent, verdict: Verdict, started: float) -> None:
        self._emit(
            replace(
                base,
                status=verdict.status.value,
                completed_at_ms=_now_ms(),
                risk_level=verdict.risk_level.value,
                user_authorization=verdict.user_authorization.value,
                outcome=verdict.outcome.value,
                rationale=verdict.rationale,
                decided_by=verdict.decided_by.value,
                rule=verdict.rule,
                failure_reason=verdict.failure_reason.value,
                model=verdict.model,
                reasoning_effort=self.settings.reasoning_effort if verdict.model else None,
                duration_ms=(time.monotonic() - started) * 1000,
                ttft_ms=verdict.ttft_ms,
                action_truncated=verdict.action_truncated,
                usage=verdict.usage,
            )
        )
        # A fail-open approval was announced by its own warning (`_fail_open`).
        if verdict.status in (ReviewStatus.APPROVED, ReviewStatus.DENIED) and (
            verdict.decided_by is not DecidedBy.FAIL_OPEN
        ):
            self._emit(
                GuardianWarning(
                    verdict.review_id,
                    "decision",
                    f"Automatic approval review {verdict.status.value} (risk:"
                    f" {verdict.risk_level.value}, authorization:"
                    f" {verdict.user_authorization.value}): {verdict.rationale}",
                    base.turn_id,
                )
            )

    def _aborted(self, review_id: str, why: str) -> Verdict:
        return Verdict(
            review_id=review_id,
            status=ReviewStatus.ABORTED,
            outcome=Outcome.DENY,
            risk_level=RiskLevel.HIGH,
            user_authorization=UserAuthorization.UNKNOWN,
            rationale=f"Automatic approval review aborted: {why}.",
            decided_by=DecidedBy.FAIL_CLOSED,
            failure_reason=FailureReason.CANCELLED,
            message="The approval review was aborted; the action was not run.",
        )

    def _failed(self, review_id: str, reason: FailureReason, error: str) -> Verdict:
        rationale = f"{_FAILED}{error}"
        return Verdict(
            review_id=review_id,
            status=ReviewStatus.DENIED,
            outcome=Outcome.DENY,
            risk_level=RiskLevel.HIGH,
            user_authorization=UserAuthorization.UNKNOWN,
            rationale=rationale,
            decided_by=DecidedBy.FAIL_CLOSED,
            failure_reason=reason,
            message=denial_message(rationale),
        )

    async def _decide(
        self, review_id: str, request: ReviewRequest, cancel: asyncio.Event | None
    ) -> Verdict:
        decision = decide_deterministic(request, self.rules, self.deterministic_context(request))
        if decision is not None:
            allowed = decision.outcome is Outcome.ALLOW
            return Verdict(
                review_id=review_id,
                status=ReviewStatus.APPROVED if allowed else ReviewStatus.DENIED,
                outcome=decision.outcome,
                risk_level=decision.risk,
                user_authorization=UserAuthorization.UNKNOWN,
                rationale=f"{decision.reason} (rule {decision.rule.id})",
                decided_by=DecidedBy.DETERMINISTIC,
                rule=decision.rule.id,
                message=None if allowed else denial_message(decision.reason),
            )
        if self.offline:
            return self._failed(
                review_id,
                FailureReason.MODEL_UNAVAILABLE,
                "no deterministic rule decides this action and the model tier is off (offline);"
                " it fails closed",
            )
        tier = await self._model_tier()
        if tier is None:
            why = self._tier_error or "no review model is configured"
            return self._failed(
                review_id,
                FailureReason.MODEL_UNAVAILABLE,
                f"the review model is unavailable: {why}",
            )
        assessment = await self._assess(tier, review_id, request, cancel)
        if assessment is None:
            return self._aborted(review_id, "cancelled by the caller")
        return self._from_model(review_id, tier, assessment)

    async def _assess(
        self, tier: ModelTier, review_id: str, request: ReviewRequest, cancel: asyncio.Event | None
    ) -> ModelAssessment | None:
        work = asyncio.ensure_future(tier.assess(request, self._warn(review_id, request.turn_id)))
        if cancel is None:
            return await work
        waiter = asyncio.ensure_future(cancel.wait())
        try:
            done, _ = await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            work.cancel()
            waiter.cancel()
            raise
        if work in done:
            waiter.cancel()
            return work.result()
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        return None

    def _from_model(self, review_id: str, tier: ModelTier, result: ModelAssessment) -> Verdict:
        verdict = self._model_verdict(review_id, result)
        return replace(
            verdict,
            model=tier.model,
            ttft_ms=result.ttft_ms,
            action_truncated=result.action_truncated,
            usage=result.usage,
        )

    def _model_verdict(self, review_id: str, result: ModelAssessment) -> Verdict:
        if result.failure is FailureReason.TIMEOUT:
            seconds = self.settings.timeout
            return Verdict(
                review_id=review_id,
                status=ReviewStatus.TIMED_OUT,
                outcome=Outcome.DENY,
                risk_level=RiskLevel.HIGH,
                user_authorization=UserAuthorization.UNKNOWN,
                rationale=f"{_TIMED_OUT}{result.error}.",
                decided_by=DecidedBy.FAIL_CLOSED,
                failure_reason=FailureReason.TIMEOUT,
                message=timeout_message(seconds),
            )
        if result.verdict is None:
            return self._failed(review_id, result.failure, result.error or "unknown error")
        verdict, _override = enforce_thresholds(result.verdict)
        allowed = verdict.outcome is Outcome.ALLOW
        return Verdict(
            review_id=review_id,
            status=ReviewStatus.APPROVED if allowed else ReviewStatus.DENIED,
            outcome=verdict.outcome,
            risk_level=verdict.risk_level,
            user_authorization=verdict.user_authorization,
            rationale=verdict.rationale,
            decided_by=DecidedBy.MODEL,
            message=None if allowed else denial_message(verdict.rationale),
        )

    def _apply_breaker(self, verdict: Verdict, request: ReviewRequest) -> Verdict:
        counted = not verdict.decided_by.failed
        was_tripped = self.breaker.tripped(request.turn_id)
        if counted:
            tripped = self.breaker.record(request.turn_id, denied=not verdict.approved)
        else:
            tripped = was_tripped
        if not tripped:
            return verdict
        if not was_tripped:
            self._emit(
                GuardianWarning(
                    verdict.review_id,
                    "circuit_breaker",
                    "Automatic approval review denied too many actions in this turn "
                    f"({self.breaker.reason(request.turn_id)}); interrupting the turn.",
                    request.turn_id,
                )
            )
        return replace(verdict, interrupt_turn=True)
