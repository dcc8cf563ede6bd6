"""Emitters of the governance around a run: proxy decisions, requirements, reviews, hooks.

``codex.network_proxy.policy_decision`` (logs only: the proxy's audit event, host and port but
never a URL), ``codex.requirements.fallback`` (a configured value refused by requirements),
``codex.guardian.review`` (the reviewer's rationale is model output: logs only) and
``codex.hook.run`` (the hook's command and message: logs only).
"""

from __future__ import annotations

from codex_admin.telemetry.model import TokenUsage
from codex_admin.telemetry.names import Event, Metric
from codex_admin.telemetry.session.content import joined
from codex_admin.telemetry.session.core import TelemetryCore

__all__ = ["GovernanceEvents"]


class GovernanceEvents(TelemetryCore):
    """The governance emitters of :class:`Telemetry`."""

    __slots__ = ()

    def network_policy_decision(
        self,
        *,
        scope: str,
        decision: str,
        source: str,
        reason: str,
        protocol: str,
        host: str,
        port: int,
        method: str = "none",
        client: str = "unknown",
        override: bool = False,
        matched_pattern: str | None = None,
        timestamp: str | None = None,
    ) -> None:
        """``codex.network_proxy.policy_decision`` (logs only): every proxy allow/deny/ask.

        The keywords are the fields of the proxy's audit event, so an audit observer can pass
        them through (``**asdict(event)``). Host, port and method only: never a URL or path.
        """
        sink = self._sink
        if sink is None:
            return
        attributes = {
            "network.policy.scope": scope,
            "network.policy.decision": decision,
            "network.policy.source": source,
            "network.policy.reason": reason,
            "network.policy.override": override,
            "network.policy.matched_pattern": matched_pattern,
            "network.transport.protocol": protocol,
            "server.address": host,
            "server.port": port,
            "http.request.method": method,
            "client.address": client,
            "audit.timestamp": timestamp,
        }
        self._event(sink, Event.NETWORK_POLICY_DECISION, attributes, None)
        self._count(
            sink,
            Metric.TURN_NETWORK_PROXY,
            {"decision": decision, "scope": scope, "source": source, "protocol": protocol},
        )

    def requirements_fallback(
        self,
        *,
        field: str,
        rejected: object,
        value: object,
        allowed: object,
        requirement_source: str,
        rejected_from: str | None = None,
    ) -> None:
        """``codex.requirements.fallback``: a configured value refused by requirements.toml.

        The keywords match an entry of the config loader's ``fallbacks`` table
        (``requirements_fallback(field=key, **entry)``).
        """
        sink = self._sink
        if sink is None:
            return
        attributes = {
            "requirements.field": field,
            "requirements.rejected": joined(rejected),
            "requirements.value": joined(value),
            "requirements.allowed": joined(allowed),
            "requirements.source": requirement_source,
            "requirements.rejected_from": rejected_from,
        }
        self._event(sink, Event.REQUIREMENTS_FALLBACK, attributes, attributes)
        self._count(sink, Metric.REQUIREMENTS_FALLBACK, {"field": field})

    def guardian_review(
        self,
        *,
        review_id: str,
        call_id: str,
        action: str,
        decision: str,
        terminal_status: str,
        duration_ms: float,
        failure_reason: str = "none",
        risk_level: str | None = None,
        user_authorization: str | None = None,
        outcome: str | None = None,
        rule: str | None = None,
        decided_by: str | None = None,
        rationale: str | None = None,
        turn_id: str | None = None,
        ttft_ms: float | None = None,
        guardian_model: str | None = None,
        guardian_reasoning_effort: str | None = None,
        approval_request_source: str | None = None,
        session_kind: str | None = None,
        had_prior_review_context: bool = False,
        reviewed_action_truncated: bool = False,
        usage: TokenUsage | None = None,
    ) -> None:
        """``codex.guardian.review`` (+ the ``codex.guardian.review*`` metrics).

        ``terminal_status``: approved | denied | aborted | timed_out | failed_closed |
        failed_open (a failed review approved because requirements set
        ``allow_guardian_fail_open``); ``failure_reason``: none | timeout | cancelled |
        prompt_build_error | session_error | parse_error | model_unavailable. ``rule``: the
        deterministic tier's rule that decided (None when the model tier did); ``decided_by``:
        deterministic | model | fail_closed | fail_open. The reviewer's ``rationale`` is model
        output: logs only.
        """
        sink = self._sink
        if sink is None:
            return
        base = {
            "guardian.review_id": review_id,
            "call_id": call_id,
            "turn_id": turn_id,
            "action": action,
            "decision": decision,
            "terminal_status": terminal_status,
            "failure_reason": failure_reason,
            "risk_level": risk_level,
            "user_authorization": user_authorization,
            "outcome": outcome,
            "guardian.rule": rule,
            "guardian.decided_by": decided_by,
            "duration_ms": int(duration_ms),
            "guardian_model": guardian_model,
            "guardian_reasoning_effort": guardian_reasoning_effort,
            "approval_request_source": approval_request_source,
            "session_kind": session_kind,
            "had_prior_review_context": had_prior_review_context,
            "reviewed_action_truncated": reviewed_action_truncated,
        }
        log = dict(base)
        if rationale is not None:
            log["rationale"] = self._content(rationale)
        trace = dict(base)
        if rationale is not None:
            trace["rationale_length"] = len(rationale)
        self._event(sink, Event.GUARDIAN_REVIEW, log, trace)
        tags = {
            "decision": decision,
            "terminal_status": terminal_status,
            "failure_reason": failure_reason,
            "approval_request_source": approval_request_source,
            "action": action,
            "session_kind": session_kind,
            "had_prior_review_context": had_prior_review_context,
            "reviewed_action_truncated": reviewed_action_truncated,
            "risk_level": risk_level,
            "user_authorization": user_authorization,
            "outcome": outcome,
            "rule": rule,
            "decided_by": decided_by,
            "guardian_model": guardian_model,
            "guardian_reasoning_effort": guardian_reasoning_effort,
        }
        self._count(sink, Metric.GUARDIAN_REVIEW, tags)
        self._duration(sink, Metric.GUARDIAN_REVIEW_DURATION, duration_ms, tags)
        if ttft_ms is not None:
            self._duration(sink, Metric.GUARDIAN_REVIEW_TTFT_DURATION, ttft_ms, tags)
        if usage is not None:
            for token_type, count in usage.by_type().items():
                self._count(
                    sink,
                    Metric.GUARDIAN_REVIEW_TOKEN_USAGE,
                    {"token_type": token_type, "guardian_model": guardian_model},
                    count,
                )

    def hook_run(
        self,
        *,
        hook_event: str,
        source: str,
        command: str,
        outcome: str,
        duration_ms: float,
        matcher: str | None = None,
        exit_code: int | None = None,
        decision: str | None = None,
        message: str | None = None,
        call_id: str | None = None,
    ) -> None:
        """``codex.hook.run``: one lifecycle hook command finished.

        ``hook_event``: PreToolUse, PostToolUse, UserPromptSubmit, Stop, ...; ``source``:
        where it was defined (``requirements``, ``managed_config``, ``user``, ``project``, ...);
        ``outcome``: success | blocked | stopped | error | timeout. The command and the hook's
        message (stderr / systemMessage / reason) are logs only.
        """
        sink = self._sink
        if sink is None:
            return
        base = {
            "hook.event": hook_event,
            "hook.source": source,
            "hook.matcher": matcher,
            "hook.outcome": outcome,
            "hook.exit_code": exit_code,
            "hook.decision": decision,
            "call_id": call_id,
            "duration_ms": int(duration_ms),
        }
        log = {**base, "hook.command": self._content(command)}
        if message is not None:
            log["hook.message"] = self._content(message)
        trace = {
            **base,
            "hook.command_length": len(command),
            "hook.message_length": len(message or ""),
        }
        self._event(sink, Event.HOOK_RUN, log, trace)
        tags = {"hook_event": hook_event, "outcome": outcome, "source": source}
        self._count(sink, Metric.HOOK_RUN, tags)
        self._duration(sink, Metric.HOOK_RUN_DURATION, duration_ms, tags)
