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

from typing import TYPE_CHECKING

from codex_admin.lazy_exports import lazy_exports

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
    "CircuitBreaker": "codex_admin.guardian.breaker",
    "Case": "codex_admin.guardian.cases",
    "CaseReport": "codex_admin.guardian.cases",
    "CaseResult": "codex_admin.guardian.cases",
    "load_cases": "codex_admin.guardian.cases",
    "run_cases": "codex_admin.guardian.cases",
    "DeterministicContext": "codex_admin.guardian.deterministic",
    "RuleDecision": "codex_admin.guardian.deterministic",
    "decide_deterministic": "codex_admin.guardian.deterministic",
    "AssessmentEvent": "codex_admin.guardian.events",
    "EventSink": "codex_admin.guardian.events",
    "GuardianEvent": "codex_admin.guardian.events",
    "GuardianWarning": "codex_admin.guardian.events",
    "SUBAGENT_HEADER": "codex_admin.guardian.model_tier",
    "ModelAssessment": "codex_admin.guardian.model_tier",
    "ModelTier": "codex_admin.guardian.model_tier",
    "is_transient": "codex_admin.guardian.model_tier",
    "REVIEWABLE": "codex_admin.guardian.network",
    "NetworkContext": "codex_admin.guardian.network",
    "NetworkDecision": "codex_admin.guardian.network",
    "NetworkGate": "codex_admin.guardian.network",
    "PathEnv": "codex_admin.guardian.paths",
    "ReviewPrompt": "codex_admin.guardian.prompt",
    "build_prompt": "codex_admin.guardian.prompt",
    "Action": "codex_admin.guardian.request",
    "ActionKind": "codex_admin.guardian.request",
    "NetworkAction": "codex_admin.guardian.request",
    "PatchAction": "codex_admin.guardian.request",
    "ReviewRequest": "codex_admin.guardian.request",
    "ShellAction": "codex_admin.guardian.request",
    "TranscriptEntry": "codex_admin.guardian.request",
    "parse_action": "codex_admin.guardian.request",
    "parse_request": "codex_admin.guardian.request",
    "parse_transcript": "codex_admin.guardian.request",
    "Guardian": "codex_admin.guardian.reviewer",
    "denial_message": "codex_admin.guardian.reviewer",
    "timeout_message": "codex_admin.guardian.reviewer",
    "Rule": "codex_admin.guardian.rules",
    "RuleTable": "codex_admin.guardian.rules",
    "builtin_rules": "codex_admin.guardian.rules",
    "load_rules": "codex_admin.guardian.rules",
    "ReviewRun": "codex_admin.guardian.service",
    "guardian_from_config": "codex_admin.guardian.service",
    "model_tier_factory": "codex_admin.guardian.service",
    "review_text": "codex_admin.guardian.service",
    "test_cases": "codex_admin.guardian.service",
    "DEFAULT_TIMEOUT": "codex_admin.guardian.settings",
    "GuardianPolicy": "codex_admin.guardian.settings",
    "GuardianSettings": "codex_admin.guardian.settings",
    "PolicyPart": "codex_admin.guardian.settings",
    "compose_policy": "codex_admin.guardian.settings",
    "guardian_settings": "codex_admin.guardian.settings",
    "OUTPUT_SCHEMA": "codex_admin.guardian.verdict",
    "DecidedBy": "codex_admin.guardian.verdict",
    "FailureReason": "codex_admin.guardian.verdict",
    "ModelVerdict": "codex_admin.guardian.verdict",
    "Outcome": "codex_admin.guardian.verdict",
    "ReviewStatus": "codex_admin.guardian.verdict",
    "RiskLevel": "codex_admin.guardian.verdict",
    "UserAuthorization": "codex_admin.guardian.verdict",
    "Verdict": "codex_admin.guardian.verdict",
    "VerdictParseError": "codex_admin.guardian.verdict",
    "enforce_thresholds": "codex_admin.guardian.verdict",
    "parse_model_verdict": "codex_admin.guardian.verdict",
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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
