"""Verdicts: the reviewer's output contract, its tolerant parser, and the §1.6 thresholds.

Output contract (spec guardian_otel_hooks §1.5, sent as the Responses ``text.format``): an
object without additional properties -- ``risk_level`` ∈ low/medium/high/critical,
``user_authorization`` ∈ unknown/low/medium/high, ``outcome`` ∈ allow/deny, ``rationale`` --
of which only ``outcome`` is required.

Parsing (:func:`parse_model_verdict`): the whole text as JSON, else the slice from the first
``{`` to the last ``}``, else a :class:`VerdictParseError`. Codex's defaults fill the gaps:
missing risk → low for allow / high for deny; missing authorization → unknown; empty rationale
→ a canned sentence. A value outside its enumeration is a parse error, not a default: a model
that says ``"risk_level": "extreme"`` must not be read as low risk.

Thresholds (:func:`enforce_thresholds`), enforced in code as well as asked for in the prompt,
so a model talked into "allow" by injected text still cannot approve:

* ``critical`` → deny, always;
* ``high`` → allow only with ``user_authorization`` medium or high;
* ``low`` / ``medium`` → the model's outcome stands.

A deny is never turned into an allow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from codex_admin.errors import CodexError

__all__ = [
    "OUTPUT_SCHEMA",
    "DecidedBy",
    "FailureReason",
    "ModelVerdict",
    "Outcome",
    "ReviewStatus",
    "RiskLevel",
    "UserAuthorization",
    "Verdict",
    "VerdictParseError",
    "enforce_thresholds",
    "parse_model_verdict",
]


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class UserAuthorization(StrEnum):
    UNKNOWN = "unknown"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return ("unknown", "low", "medium", "high").index(self.value)


class Outcome(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class ReviewStatus(StrEnum):
    """The assessment status (Codex's `GuardianAssessment.status`)."""

    IN_PROGRESS = "in_progress"
    APPROVED = "approved"
    DENIED = "denied"
    TIMED_OUT = "timed_out"
    ABORTED = "aborted"


class DecidedBy(StrEnum):
    """Who decided: a rule, the model, or nobody -- the review failed and the failure policy
    answered (``fail_closed`` by default; ``fail_open`` only when requirements set
    ``allow_guardian_fail_open``)."""

    DETERMINISTIC = "deterministic"
    MODEL = "model"
    FAIL_CLOSED = "fail_closed"
    FAIL_OPEN = "fail_open"

    @property
    def failed(self) -> bool:
        """The review itself failed (no rule and no model verdict decided)."""
        return self in (DecidedBy.FAIL_CLOSED, DecidedBy.FAIL_OPEN)


class FailureReason(StrEnum):
    """Why a review ended without a model decision (telemetry's ``failure_reason``)."""

    NONE = "none"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    PROMPT_BUILD_ERROR = "prompt_build_error"
    SESSION_ERROR = "session_error"
    PARSE_ERROR = "parse_error"
    MODEL_UNAVAILABLE = "model_unavailable"  # offline, or no model tier could be built


OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "risk_level": {"type": "string", "enum": [r.value for r in RiskLevel]},
        "user_authorization": {"type": "string", "enum": [a.value for a in UserAuthorization]},
        "outcome": {"type": "string", "enum": [o.value for o in Outcome]},
        "rationale": {"type": "string"},
    },
    "required": ["outcome"],
}

DEFAULT_RATIONALE = {
    Outcome.ALLOW: "The reviewer found the planned action acceptable under the policy.",
    Outcome.DENY: "The reviewer found the planned action's risk unacceptable under the policy.",
}


class VerdictParseError(CodexError):
    """The reviewer's answer is not a verdict (not JSON, wrong shape, unknown value)."""


@dataclass(frozen=True)
class ModelVerdict:
    """What the review model said, defaults applied."""

    outcome: Outcome
    risk_level: RiskLevel
    user_authorization: UserAuthorization
    rationale: str


def _json_object(text: str) -> dict[str, Any]:
    candidates = [text.strip()]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    snippet = " ".join(text.split())[:200]
    raise VerdictParseError(f"the reviewer's answer is not a JSON object: {snippet!r}")


def _enum(data: dict[str, Any], key: str, kind: type[StrEnum]) -> Any:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise VerdictParseError(f"the reviewer's `{key}` is not a string: {value!r}")
    try:
        return kind(value.strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise VerdictParseError(
            f"the reviewer's `{key}` is {value!r}, not one of {allowed}"
        ) from None


def parse_model_verdict(text: str) -> ModelVerdict:
    """Tolerant extraction + Codex's defaults (see the module docstring)."""
    data = _json_object(text)
    outcome = _enum(data, "outcome", Outcome)
    if outcome is None:
        raise VerdictParseError("the reviewer's answer has no `outcome`")
    risk = _enum(data, "risk_level", RiskLevel)
    if risk is None:
        risk = RiskLevel.LOW if outcome is Outcome.ALLOW else RiskLevel.HIGH
    auth = _enum(data, "user_authorization", UserAuthorization) or UserAuthorization.UNKNOWN
    rationale = data.get("rationale")
    if rationale is not None and not isinstance(rationale, str):
        raise VerdictParseError(f"the reviewer's `rationale` is not a string: {rationale!r}")
    rationale = " ".join((rationale or "").split()) or DEFAULT_RATIONALE[outcome]
    return ModelVerdict(outcome, risk, auth, rationale)


def enforce_thresholds(verdict: ModelVerdict) -> tuple[ModelVerdict, str | None]:
    """The §1.6 floor in code: returns the verdict to act on and why it was overridden."""
    if verdict.outcome is Outcome.DENY:
        return verdict, None
    if verdict.risk_level is RiskLevel.CRITICAL:
        reason = "critical risk is always denied"
    elif (
        verdict.risk_level is RiskLevel.HIGH
        and verdict.user_authorization.rank < UserAuthorization.MEDIUM.rank
    ):
        reason = (
            "high risk needs user authorization of at least medium, the reviewer found "
            f"{verdict.user_authorization.value}"
        )
    else:
        return verdict, None
    rationale = f"{verdict.rationale} (The reviewer's allow was overridden: {reason}.)"
    return replace(verdict, outcome=Outcome.DENY, rationale=rationale), reason


@dataclass(frozen=True)
class Verdict:
    """The guardian's answer to one review.

    ``status`` is what happened (approved / denied / timed_out / aborted); ``outcome`` is allow
    only when approved. ``message`` is what the agent is told when the action may not run.
    ``interrupt_turn`` is set when the circuit breaker trips: the caller ends the turn.
    """

    review_id: str
    status: ReviewStatus
    outcome: Outcome
    risk_level: RiskLevel
    user_authorization: UserAuthorization
    rationale: str
    decided_by: DecidedBy
    rule: str | None = None
    failure_reason: FailureReason = FailureReason.NONE
    message: str | None = None
    interrupt_turn: bool = False
    model: str | None = None
    duration_ms: float = 0.0
    ttft_ms: float | None = None
    action_truncated: bool = False
    usage: dict[str, int] | None = None

    @property
    def approved(self) -> bool:
        return self.status is ReviewStatus.APPROVED

    def to_json(self) -> dict[str, Any]:
        """The stable `codex guardian review --json` shape."""
        return {
            "outcome": self.outcome.value,
            "risk_level": self.risk_level.value,
            "user_authorization": self.user_authorization.value,
            "rationale": self.rationale,
            "decided_by": self.decided_by.value,
            "rule": self.rule,
            "status": self.status.value,
        }
