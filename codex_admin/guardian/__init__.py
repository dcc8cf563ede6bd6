"""The guardian auto-reviewer (``approvals_reviewer = "auto_review"``, alias
``guardian_subagent``): a deterministic tier, then a model tier, failing closed.

It stands in for the human at an approval boundary the agent already has (an escalation out of
the sandbox, a patch outside the writable roots, a host outside the network allow list) and
never widens anything on its own. The agent's adapter calls it with plain data::

    guardian = guardian_from_config(config_result, on_event=sink)   # one per session
    verdict = await guardian.review(parse_request({
        "action": {"type": "shell", "command": argv, "cwd": cwd,
                   "sandbox_permissions": "require_escalated", "justification": why},
        "transcript": [{"role": "user", "text": ...}, ...],
        "thread_id": thread, "turn_id": turn, "target_item_id": call_id,
    }))
    verdict.status      # approved | denied | timed_out | aborted
    verdict.message     # what to tell the model when it is not approved
    verdict.interrupt_turn   # the circuit breaker tripped: end the turn
    gate = NetworkGate(guardian)                  # the proxy's allow-list-miss decider:
    proxy_decider = gate.decider(lambda: NetworkContext(trigger=..., transcript=..., turn_id=...))
    await guardian.aclose()

Module map: ``request`` (actions, transcript, parsing), ``verdict`` (contract, parser,
thresholds), ``hosts`` / ``paths`` / ``shellview`` (how an action is read), ``rules`` + the
shipped ``rules.toml`` (the table), ``deterministic`` (the tier), ``settings`` (policy text and
its sources, model, timeout), ``prompt`` (layout and budgets), ``model_tier`` (the request,
timeout, retry, failure classes), ``breaker``, ``events``, ``reviewer`` (:class:`Guardian`),
``network`` (:class:`NetworkGate`), ``cases`` (`codex guardian test`), ``service`` (entry
points for the CLI). Depends on providers, execpolicy, auth, config, errors and vocabulary;
never on the agent. Names resolve lazily (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codex_admin.guardian.breaker import CircuitBreaker
    from codex_admin.guardian.cases import Case, CaseReport, CaseResult, load_cases, run_cases
    from codex_admin.guardian.deterministic import (
        DeterministicContext,
        RuleDecision,
        decide_deterministic,
    )
    from codex_admin.guardian.events import (
        AssessmentEvent,
        EventSink,
        GuardianEvent,
        GuardianWarning,
    )
    from codex_admin.guardian.model_tier import (
        SUBAGENT_HEADER,
        ModelAssessment,
        ModelTier,
        is_transient,
    )
    from codex_admin.guardian.network import (
        REVIEWABLE,
        NetworkContext,
        NetworkDecision,
        NetworkGate,
    )
    from codex_admin.guardian.paths import PathEnv
    from codex_admin.guardian.prompt import ReviewPrompt, build_prompt
    from codex_admin.guardian.request import (
        Action,
        ActionKind,
        NetworkAction,
        PatchAction,
        ReviewRequest,
        ShellAction,
        TranscriptEntry,
        parse_action,
        parse_request,
        parse_transcript,
    )
    from codex_admin.guardian.reviewer import Guardian, denial_message, timeout_message
    from codex_admin.guardian.rules import Rule, RuleTable, builtin_rules, load_rules
    from codex_admin.guardian.service import (
        ReviewRun,
        guardian_from_config,
        model_tier_factory,
        review_text,
        test_cases,
    )
    from codex_admin.guardian.settings import (
        DEFAULT_TIMEOUT,
        GuardianPolicy,
        GuardianSettings,
        PolicyPart,
        compose_policy,
        guardian_settings,
    )
    from codex_admin.guardian.verdict import (
        OUTPUT_SCHEMA,
        DecidedBy,
        FailureReason,
        ModelVerdict,
        Outcome,
        ReviewStatus,
        RiskLevel,
        UserAuthorization,
        Verdict,
        VerdictParseError,
        enforce_thresholds,
        parse_model_verdict,
    )

_EXPORTS: dict[str, str] = {
    "CircuitBreaker": "breaker",
    "Case": "cases",
    "CaseReport": "cases",
    "CaseResult": "cases",
    "load_cases": "cases",
    "run_cases": "cases",
    "DeterministicContext": "deterministic",
    "RuleDecision": "deterministic",
    "decide_deterministic": "deterministic",
    "AssessmentEvent": "events",
    "EventSink": "events",
    "GuardianEvent": "events",
    "GuardianWarning": "events",
    "SUBAGENT_HEADER": "model_tier",
    "ModelAssessment": "model_tier",
    "ModelTier": "model_tier",
    "is_transient": "model_tier",
    "REVIEWABLE": "network",
    "NetworkContext": "network",
    "NetworkDecision": "network",
    "NetworkGate": "network",
    "PathEnv": "paths",
    "ReviewPrompt": "prompt",
    "build_prompt": "prompt",
    "Action": "request",
    "ActionKind": "request",
    "NetworkAction": "request",
    "PatchAction": "request",
    "ReviewRequest": "request",
    "ShellAction": "request",
    "TranscriptEntry": "request",
    "parse_action": "request",
    "parse_request": "request",
    "parse_transcript": "request",
    "Guardian": "reviewer",
    "denial_message": "reviewer",
    "timeout_message": "reviewer",
    "Rule": "rules",
    "RuleTable": "rules",
    "builtin_rules": "rules",
    "load_rules": "rules",
    "ReviewRun": "service",
    "guardian_from_config": "service",
    "model_tier_factory": "service",
    "review_text": "service",
    "test_cases": "service",
    "DEFAULT_TIMEOUT": "settings",
    "GuardianPolicy": "settings",
    "GuardianSettings": "settings",
    "PolicyPart": "settings",
    "compose_policy": "settings",
    "guardian_settings": "settings",
    "OUTPUT_SCHEMA": "verdict",
    "DecidedBy": "verdict",
    "FailureReason": "verdict",
    "ModelVerdict": "verdict",
    "Outcome": "verdict",
    "ReviewStatus": "verdict",
    "RiskLevel": "verdict",
    "UserAuthorization": "verdict",
    "Verdict": "verdict",
    "VerdictParseError": "verdict",
    "enforce_thresholds": "verdict",
    "parse_model_verdict": "verdict",
}

__all__ = [
    "DEFAULT_TIMEOUT",
    "OUTPUT_SCHEMA",
    "REVIEWABLE",
    "SUBAGENT_HEADER",
    "Action",
    "ActionKind",
    "AssessmentEvent",
    "Case",
    "CaseReport",
    "CaseResult",
    "CircuitBreaker",
    "DecidedBy",
    "DeterministicContext",
    "EventSink",
    "FailureReason",
    "Guardian",
    "GuardianEvent",
    "GuardianPolicy",
    "GuardianSettings",
    "GuardianWarning",
    "ModelAssessment",
    "ModelTier",
    "ModelVerdict",
    "NetworkAction",
    "NetworkContext",
    "NetworkDecision",
    "NetworkGate",
    "Outcome",
    "PatchAction",
    "PathEnv",
    "PolicyPart",
    "ReviewPrompt",
    "ReviewRequest",
    "ReviewRun",
    "ReviewStatus",
    "RiskLevel",
    "Rule",
    "RuleDecision",
    "RuleTable",
    "ShellAction",
    "TranscriptEntry",
    "UserAuthorization",
    "Verdict",
    "VerdictParseError",
    "build_prompt",
    "builtin_rules",
    "compose_policy",
    "decide_deterministic",
    "denial_message",
    "enforce_thresholds",
    "guardian_from_config",
    "guardian_settings",
    "is_transient",
    "load_cases",
    "load_rules",
    "model_tier_factory",
    "parse_action",
    "parse_model_verdict",
    "parse_request",
    "parse_transcript",
    "review_text",
    "run_cases",
    "test_cases",
    "timeout_message",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"codex_admin.guardian.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
