"""The one place the agent talks to telemetry: session, turn, tool and governance events.

The turn loop, the tools and :func:`~codex_admin.agent.bootstrap.open_session` call a narrow
interface in the agent's own vocabulary (a :class:`ToolCall`, a :class:`ReviewDecision`, an
execpolicy decision, a hook outcome, a guardian assessment, a proxy audit event); this module
translates it into the telemetry package's typed emitters (spec §2.4, §2.5). Without an exporter
configured (:meth:`SessionObservability.off`, or `[otel]` absent) every method returns after one
attribute test, the tool-call and turn scopes are shared no-op objects, and the model client,
the proxy and the guardian get no observer at all -- the OpenTelemetry SDK is never imported.

What each governance point exports:

* ``codex.tool_decision`` (logs only), for every approval-boundary decision of a shell command or
  a patch, with ``source``:

  - ``config`` -- the configuration decided without asking anyone: a command or patch that needs
    no approval (``approved``), a ``forbidden`` rule, the approval policy ``never`` refusing what
    would need approval or an escalation (``denied``), a patch target the write boundaries refuse;
    **and lifecycle hooks**: a PermissionRequest hook's allow or deny, a PreToolUse hook's deny.
    A hook is configuration an admin or user wrote; it is neither the human at the prompt nor the
    auto-reviewer, and Codex's ``source`` has no fourth value;
  - ``user`` -- the user's reviewer answered (headless `exec` with the ``user`` reviewer refuses:
    ``denied``), or a command approved "for the session" earlier runs again
    (``approvedforsession``);
  - ``automated_reviewer`` -- the guardian answered.

  ``decision`` is Codex's lower-cased enum display form: ``approved``, ``approvedforsession``,
  ``denied``, ``timedout`` (the guardian timed out: the action did not run), ``abort``.
* ``codex.execpolicy.decision`` for every governed command: the command (logs only), the
  requirement the rules produced (``allow`` | ``prompt`` | ``forbidden``), the matched prefix
  rules (``prefix_rule <prefix> -> <decision> (<file:line>)``) and ``source`` ``rule`` when a
  prefix rule matched, else ``heuristics``.
* ``codex.sandbox_outcome`` for every command that ran: ``success``, ``failed``, ``timeout``,
  ``sandbox_denied`` (the sandbox evidently refused and no retry outside it was approved) or
  ``escalated`` (retried outside the sandbox after a denial; ``escalated_duration_ms`` is the
  retry's), with the sandbox mode it ran under (``danger-full-access`` when unsandboxed).
* ``codex.guardian.review`` from the guardian's terminal assessment events (``terminal_status``
  ``failed_closed`` when the review failed and therefore denied, ``failed_open`` when it failed
  and requirements' ``allow_guardian_fail_open`` approved it; ``guardian.decided_by`` says
  who decided).
* ``codex.hook.run`` per hook command run (outcome ``success`` | ``blocked`` | ``stopped`` |
  ``error`` | ``timeout``).
* ``codex.network_proxy.policy_decision`` for every allow/deny of the session proxy (host, port,
  method; never a URL).
* ``codex.api_request`` / ``codex.sse_event`` from the model client's observer; the turn's first
  output delta is its time to first token.

The current tool call (name and id) is kept in a context variable, so the governance points deep
in :mod:`.execution` and the patch tool need not pass it along; parallel tool calls run in their
own tasks and see their own call.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any

from codex_admin.agent.events import Usage
from codex_admin.agent.reviewers import DecisionSource, ReviewDecision

if TYPE_CHECKING:  # for readers and mypy; at run time only the live path loads them
    from codex_admin.execpolicy import ExecDecision, PrefixRuleMatch
    from codex_admin.guardian import GuardianEvent
    from codex_admin.hooks import EventOutcome
    from codex_admin.providers import ApiAttempt, Credentials, SseObservation
    from codex_admin.proxy import AuditEvent
    from codex_admin.telemetry import Telemetry, TokenUsage, ToolCallScope, TurnScope

__all__ = ["SessionObservability", "ToolObservation", "TurnObservation"]

# (tool name, call id) of the tool call being handled in this task.
_CALL: ContextVar[tuple[str, str] | None] = ContextVar("codex_observed_call", default=None)

_DECISION = {
    ReviewDecision.APPROVED: "approved",
    ReviewDecision.APPROVED_FOR_SESSION: "approvedforsession",
    ReviewDecision.DENIED: "denied",
    ReviewDecision.TIMED_OUT: "timedout",
    ReviewDecision.ABORT: "abort",
}
_REQUIREMENT = {"skip": "allow", "needs_approval": "prompt", "forbidden": "forbidden"}
# SSE kinds that carry model output: the first one of a turn is its first token.
_OUTPUT_KINDS = frozenset(
    {
        "response.output_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.output_item.done",
        "chat.completion.chunk",
    }
)
_HOOK_OUTCOME = {"completed": "success", "blocked": "blocked", "stopped": "stopped"}


def token_usage(usage: Usage) -> TokenUsage:
    """The agent's usage in telemetry's type (live sessions only: the package is loaded then)."""
    from codex_admin.telemetry import TokenUsage

    return TokenUsage(
        input_tokens=usage.input_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        output_tokens=usage.output_tokens,
        reasoning_output_tokens=usage.reasoning_output_tokens,
    )


class TurnObservation:
    """The open turn: mark its first message, add usage, mark a failure."""

    __slots__ = ("_owner", "_scope")

    def __init__(self, owner: SessionObservability | None, scope: TurnScope | None) -> None:
        self._owner = owner
        self._scope = scope

    @staticmethod
    def off() -> TurnObservation:
        """The shared no-op turn (telemetry off)."""
        return _NOOP_TURN

    def __enter__(self) -> TurnObservation:
        if self._scope is not None and self._owner is not None:
            self._scope.__enter__()
            self._owner._turn = self._scope
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._scope is not None and self._owner is not None:
            self._owner._turn = None
            self._scope.__exit__(exc_type, exc, tb)

    def first_message(self) -> None:
        if self._scope is not None:
            self._scope.first_message()

    def usage(self, usage: Usage) -> None:
        if self._scope is not None:
            self._scope.token_usage(token_usage(usage))

    def failed(self) -> None:
        if self._scope is not None:
            self._scope.failed()


class ToolObservation:
    """The open tool call: its ``codex.tool_call`` span; :meth:`finished` reports the result."""

    __slots__ = ("_arguments", "_call", "_scope", "_started", "_telemetry", "_token")

    def __init__(
        self, telemetry: Telemetry | None, tool_name: str, call_id: str, arguments: str
    ) -> None:
        self._telemetry = telemetry
        self._call = (tool_name, call_id)
        self._arguments = arguments
        self._scope: ToolCallScope | None = None
        self._token: Token[tuple[str, str] | None] | None = None
        self._started = 0.0

    def __enter__(self) -> ToolObservation:
        telemetry = self._telemetry
        if telemetry is not None:
            self._token = _CALL.set(self._call)
            self._scope = telemetry.tool_call(*self._call).__enter__()
            self._started = time.monotonic()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._scope is not None:
            self._scope.__exit__(exc_type, exc, tb)
        if self._token is not None:
            _CALL.reset(self._token)

    def finished(self, output: str, success: bool) -> None:
        telemetry = self._telemetry
        if telemetry is None:
            return
        tool_name, call_id = self._call
        telemetry.tool_result(
            tool_name=tool_name,
            call_id=call_id,
            arguments=self._arguments,
            output=output,
            duration_ms=(time.monotonic() - self._started) * 1000.0,
            success=success,
        )


_NOOP_TURN = TurnObservation(None, None)
_NOOP_TOOL = ToolObservation(None, "", "", "")


class SessionObservability:
    """One session's telemetry in the agent's terms (see the module docstring)."""

    __slots__ = (
        "_credentials",
        "_pending",
        "_reported",
        "_session_source",
        "_telemetry",
        "_turn",
    )

    def __init__(
        self,
        telemetry: Telemetry | None,
        *,
        credentials: Credentials | None = None,
        session_source: str = "exec",
    ) -> None:
        # Only a live session is kept: every method starts with one None test.
        self._telemetry = telemetry if telemetry is not None and telemetry.enabled else None
        self._pending = list(telemetry.warnings) if telemetry is not None else []
        self._credentials = credentials
        self._session_source = session_source
        self._turn: TurnScope | None = None
        self._reported: set[str] = set()

    @classmethod
    def off(cls) -> SessionObservability:
        """Exports nothing: no `[otel]` table (the telemetry session code is not even loaded)."""
        return cls(None)

    @property
    def enabled(self) -> bool:
        return self._telemetry is not None

    def take_warnings(self) -> list[str]:
        """Problems not reported yet (an exporter that could not be built, a bad flush bound,
        an export that failed), each once, as ``telemetry: ...``."""
        t = self._telemetry
        found = [*self._pending, *(t.warnings if t is not None else ())]
        fresh = [w for w in dict.fromkeys(found) if w not in self._reported]
        self._reported.update(fresh)
        return [w if w.startswith("telemetry") else f"telemetry: {w}" for w in fresh]

    # -- the session --------------------------------------------------------------------------

    def session_started(
        self,
        *,
        provider_name: str,
        approval_policy: str,
        sandbox_policy: str,
        config: Mapping[str, Any],
        profile: str | None,
        fallbacks: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """``codex.conversation_starts`` and one ``codex.requirements.fallback`` per value the
        requirements refused."""
        t = self._telemetry
        if t is None:
            return
        servers = config.get("mcp_servers")
        t.conversation_starts(
            provider_name=provider_name,
            approval_policy=approval_policy,
            sandbox_policy=sandbox_policy,
            reasoning_effort=_opt_str(config.get("model_reasoning_effort")),
            reasoning_summary=_opt_str(config.get("model_reasoning_summary")),
            context_window=_opt_int(config.get("model_context_window")),
            auto_compact_token_limit=_opt_int(config.get("model_auto_compact_token_limit")),
            mcp_servers=sorted(servers) if isinstance(servers, dict) else (),
            active_profile=profile,
        )
        for field, entry in fallbacks.items():
            t.requirements_fallback(
                field=field,
                rejected=entry.get("rejected"),
                value=entry.get("value"),
                allowed=entry.get("allowed"),
                requirement_source=str(entry.get("requirement_source") or ""),
                rejected_from=_opt_str(entry.get("rejected_from")),
            )

    async def shutdown(self) -> list[str]:
        """Flush and stop within the flush bound, off the event loop (idempotent); the warnings
        not reported yet (a receiver that is slow or down: the unsent records are dropped)."""
        if self._telemetry is not None:
            await asyncio.to_thread(self._telemetry.shutdown)
        return self.take_warnings()

    # -- observers for the model client, the proxy and the guardian ---------------------------

    def model_observer(self) -> _ModelObserver | None:
        """``ModelClient(observer=...)``: ``codex.api_request`` and ``codex.sse_event``."""
        return _ModelObserver(self, self._telemetry) if self._telemetry is not None else None

    def audit_observer(self) -> _AuditObserver | None:
        """The session proxy's audit subscriber: ``codex.network_proxy.policy_decision``."""
        t = self._telemetry
        return _AuditObserver(t) if t is not None else None

    def guardian_sink(self) -> _GuardianSink | None:
        """The guardian's ``on_event``: ``codex.guardian.review`` per terminal assessment."""
        t = self._telemetry
        return _GuardianSink(t, self._session_source) if t is not None else None

    # -- turns and tool calls -----------------------------------------------------------------

    def turn(self, turn_id: str, model: str | None = None) -> TurnObservation:
        """``with observe.turn(turn_id) as turn:`` -- the ``codex.turn`` span and metrics."""
        t = self._telemetry
        if t is None:
            return _NOOP_TURN
        return TurnObservation(self, t.turn(turn_id, model=model))

    def user_prompt(self, text: str, images: Sequence[Mapping[str, Any]] = ()) -> None:
        t = self._telemetry
        if t is not None:
            t.user_prompt(text, text_inputs=1, image_inputs=len(images))

    def tool_call(self, tool_name: str, call_id: str, arguments: str) -> ToolObservation:
        """``with observe.tool_call(...) as tool: ...; tool.finished(output, success)``."""
        t = self._telemetry
        if t is None:
            return _NOOP_TOOL
        return ToolObservation(t, tool_name, call_id, arguments)

    # -- governance points (inside a tool call) -----------------------------------------------

    def tool_decision(self, decision: ReviewDecision, source: DecisionSource) -> None:
        """``codex.tool_decision`` for the current tool call."""
        t = self._telemetry
        if t is None:
            return
        tool_name, call_id = _CALL.get() or ("unknown", "")
        t.tool_decision(
            tool_name=tool_name, call_id=call_id, decision=_DECISION[decision], source=source.value
        )

    def approved_by_config(self) -> None:
        self.tool_decision(ReviewDecision.APPROVED, DecisionSource.CONFIG)

    def denied_by_config(self) -> None:
        self.tool_decision(ReviewDecision.DENIED, DecisionSource.CONFIG)

    def execpolicy(self, argv: Sequence[str], decision: ExecDecision) -> None:
        """``codex.execpolicy.decision`` for one governed command."""
        t = self._telemetry
        if t is None:
            return
        from codex_admin.execpolicy import PrefixRuleMatch  # loaded: the rules just ran

        tool_name, call_id = _CALL.get() or ("shell", "")
        rules = [
            _describe_rule(m)
            for m in decision.evaluation.matched_rules
            if isinstance(m, PrefixRuleMatch)
        ]
        requirement = decision.requirement
        t.execpolicy_decision(
            call_id=call_id,
            tool_name=tool_name,
            command=list(argv),
            decision=_REQUIREMENT.get(requirement.kind, requirement.kind),
            source="rule" if rules else "heuristics",
            matched_rules=rules,
            justification=requirement.reason,
        )

    def sandbox_outcome(
        self,
        outcome: str,
        *,
        initial_s: float,
        escalated_s: float | None = None,
        sandbox: str,
    ) -> None:
        """``codex.sandbox_outcome`` for the command just run (durations in seconds)."""
        t = self._telemetry
        if t is None:
            return
        tool_name, call_id = _CALL.get() or ("shell", "")
        t.sandbox_outcome(
            tool_name=tool_name,
            call_id=call_id,
            outcome=outcome,
            initial_duration_ms=initial_s * 1000.0,
            escalated_duration_ms=escalated_s * 1000.0 if escalated_s is not None else None,
            sandbox=sandbox,
        )

    def hook_runs(self, outcome: EventOutcome) -> None:
        """``codex.hook.run`` for each command an event ran."""
        t = self._telemetry
        if t is None or not outcome.runs:
            return
        call = _CALL.get()
        for run in outcome.runs:
            status = run.status.value
            effect = run.effect
            decision = (
                "deny"
                if effect.block
                else "allow"
                if effect.allow
                else "ask"
                if effect.ask
                else None
            )
            message = "; ".join(entry.text for entry in run.entries) or None
            t.hook_run(
                hook_event=run.hook.event.value,
                source=run.hook.source.value,
                command=run.hook.command,
                outcome="timeout" if run.timed_out else _HOOK_OUTCOME.get(status, "error"),
                duration_ms=run.duration_ms,
                matcher=run.hook.matcher.pattern,
                exit_code=run.exit_code,
                decision=decision,
                message=message,
                call_id=call[1] if call is not None else None,
            )

    def register_secrets(self, secrets: Iterable[str]) -> None:
        t = self._telemetry
        if t is not None:
            for secret in secrets:
                t.register_secret(secret)


def _describe_rule(match: PrefixRuleMatch) -> str:
    rule = match.rule
    where = f" ({rule.source})" if rule is not None and rule.source else ""
    return f"prefix_rule {shlex.join(match.matched_prefix)} -> {match.decision.value}{where}"


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _ModelObserver:
    """The :class:`~codex_admin.providers.ModelObserver` of the session's model client."""

    __slots__ = ("_owner", "_telemetry")

    def __init__(self, owner: SessionObservability, telemetry: Telemetry) -> None:
        self._owner = owner
        self._telemetry = telemetry

    def on_attempt(self, attempt: ApiAttempt) -> None:
        owner = self._owner
        if owner._credentials is not None:
            # A token fetched lazily (an `auth` command, a refresh) is known only now.
            owner.register_secrets(owner._credentials.secrets())
        self._telemetry.api_request(
            attempt=attempt.attempt,
            duration_ms=attempt.duration_ms,
            status_code=attempt.status_code,
            error=attempt.error,
            endpoint=attempt.endpoint,
            auth_header_attached=attempt.auth_header_attached,
            auth_header_name=attempt.auth_header_name,
            request_id=attempt.request_id,
        )

    def on_sse(self, event: SseObservation) -> None:
        usage = None
        if event.usage is not None:
            from codex_admin.telemetry import TokenUsage  # loaded: this session is live

            usage = TokenUsage(
                input_tokens=event.usage.input_tokens,
                cached_input_tokens=event.usage.cached_input_tokens,
                output_tokens=event.usage.output_tokens,
                reasoning_output_tokens=event.usage.reasoning_output_tokens,
                total_tokens=event.usage.total_tokens or None,
            )
        self._telemetry.sse_event(
            kind=event.kind, duration_ms=event.duration_ms, error=event.error, usage=usage
        )
        turn = self._owner._turn
        if turn is not None and event.kind in _OUTPUT_KINDS:
            turn.first_token()


class _AuditObserver:
    """The proxy's audit subscriber (host, port and method only: the audit has no URL)."""

    __slots__ = ("_telemetry",)

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry

    def __call__(self, event: AuditEvent) -> None:
        self._telemetry.network_policy_decision(
            scope=event.scope,
            decision=event.decision,
            source=event.source,
            reason=event.reason,
            protocol=event.protocol,
            host=event.host,
            port=event.port,
            method=event.method,
            client=event.client,
            override=event.override,
            matched_pattern=event.matched_pattern,
            timestamp=event.timestamp,
        )


class _GuardianSink:
    """The guardian's ``on_event``: a terminal assessment becomes ``codex.guardian.review``."""

    __slots__ = ("_session_source", "_telemetry")

    def __init__(self, telemetry: Telemetry, session_source: str) -> None:
        self._telemetry = telemetry
        self._session_source = session_source

    def __call__(self, event: GuardianEvent) -> None:
        # Warnings are for people, not dashboards; a review is exported once, when it ends.
        # Loaded already (the guardian sent it; this session is live).
        from codex_admin.guardian import AssessmentEvent
        from codex_admin.telemetry import TokenUsage

        if not isinstance(event, AssessmentEvent) or event.status == "in_progress":
            return
        assessment, status = event, event.status
        terminal = status
        if assessment.decided_by == "fail_closed" and status == "denied":
            terminal = "failed_closed"
        elif assessment.decided_by == "fail_open" and status == "approved":
            terminal = "failed_open"
        call = _CALL.get()
        usage = assessment.usage
        self._telemetry.guardian_review(
            review_id=assessment.id,
            call_id=assessment.target_item_id or (call[1] if call is not None else ""),
            action=assessment.action_kind,
            decision="approved" if status == "approved" else "denied",
            terminal_status=terminal,
            duration_ms=assessment.duration_ms or 0.0,
            failure_reason=assessment.failure_reason,
            risk_level=assessment.risk_level,
            user_authorization=assessment.user_authorization,
            outcome=assessment.outcome,
            rule=assessment.rule,
            decided_by=assessment.decided_by,
            rationale=assessment.rationale,
            turn_id=assessment.turn_id,
            ttft_ms=assessment.ttft_ms,
            guardian_model=assessment.model,
            guardian_reasoning_effort=assessment.reasoning_effort,
            approval_request_source="main_turn",
            session_kind=self._session_source,
            reviewed_action_truncated=assessment.action_truncated,
            usage=(
                TokenUsage(
                    input_tokens=usage.get("input_tokens", 0),
                    cached_input_tokens=usage.get("cached_input_tokens", 0),
                    output_tokens=usage.get("output_tokens", 0),
                    reasoning_output_tokens=usage.get("reasoning_output_tokens", 0),
                    total_tokens=usage.get("total_tokens") or None,
                )
                if usage
                else None
            ),
        )
