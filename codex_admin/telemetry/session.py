"""The per-session telemetry object: typed emitters, routing and redaction (spec §2.3-§2.5).

One :class:`Telemetry` per agent session. Every emitter builds the event's attributes twice:

- the **log** form (``codex_otel.log_only`` in Codex) may carry content: the prompt when
  ``log_user_prompt`` is on (else ``[REDACTED]``), tool arguments and output, the command an
  execpolicy rule judged, the guardian's rationale, a hook's command and message, and the user's
  e-mail and account id;
- the **trace** form (``codex_otel.trace_safe``) carries sizes and counts only and is attached as a
  span event to the current turn / tool-call span (or to a zero-length span of its own).

Some events are log-only, as in Codex: ``codex.tool_decision`` and the domain audit event
``codex.network_proxy.policy_decision``. Every exported string passes through the session's
:class:`~codex_admin.telemetry.redaction.Redactor`; metric tags are validated and sanitised
(:mod:`codex_admin.telemetry.names`).

Without a configured exporter the session has no sink and every emitter returns after one
attribute test, so the agent can call them unconditionally. With one, emitting only queues: the
OpenTelemetry SDK's batch processors and metric reader export from their own threads, never from
the caller's thread or event loop.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import replace
from datetime import UTC, datetime
from enum import StrEnum
from types import TracebackType

from codex_admin.telemetry.model import (
    AttributeValue,
    DecisionSource,
    SessionMeta,
    ShutdownReport,
    Sink,
    SpanHandle,
    TokenUsage,
    ToolDecision,
)
from codex_admin.telemetry.names import Event, Metric, sanitize_tag_value, validate_tag_key
from codex_admin.telemetry.redaction import REDACTED, Redactor
from codex_admin.telemetry.settings import OtelSettings

__all__ = ["Telemetry", "ToolCallScope", "TurnScope"]

# The innermost open turn / tool-call scope of the running task (asyncio tasks copy it).
_CURRENT: ContextVar[_Scope | None] = ContextVar("codex_telemetry_scope", default=None)


class _Redacted(str):
    """A content string the redactor has processed, so :meth:`Telemetry._clean` skips it."""

    __slots__ = ()


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _flag(value: bool) -> str:
    """Codex exports booleans such as ``success`` as the strings "true"/"false"."""
    return "true" if value else "false"


def _lines(text: str) -> int:
    return text.count("\n") + 1 if text else 0


class Telemetry:
    """One session's telemetry. Build it with :func:`codex_admin.telemetry.start_telemetry`.

    All emitters are keyword-only, never raise for bad values, and cost one attribute test when
    the session exports nothing (:meth:`disabled`).
    """

    __slots__ = (
        "_log_common",
        "_meta",
        "_metric_common",
        "_originator",
        "_redact",
        "_settings",
        "_sink",
        "_span_common",
        "_stopped",
        "_version",
        "_warnings",
    )

    def __init__(
        self,
        sink: Sink | None,
        *,
        settings: OtelSettings,
        originator: str,
        version: str,
        meta: SessionMeta | None = None,
        redactor: Redactor | None = None,
        warnings: Iterable[str] = (),
    ) -> None:
        self._sink = sink
        self._settings = settings
        self._originator = originator
        self._version = version
        self._redact = redactor or Redactor()
        self._warnings: list[str] = list(warnings)
        self._stopped = False
        self._meta = meta or SessionMeta()
        self._log_common: dict[str, AttributeValue] = {}
        self._span_common: dict[str, AttributeValue] = {}
        self._metric_common: dict[str, str] = {}
        self._refresh_common()

    @classmethod
    def disabled(cls, originator: str = "codex_cli_rs", version: str = "") -> Telemetry:
        """A session that exports nothing (no `[otel]` exporter configured)."""
        return cls(None, settings=OtelSettings(), originator=originator, version=version)

    # -- state -------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """True when at least one signal is exported."""
        return self._sink is not None

    @property
    def signals(self) -> frozenset[str]:
        """The exported signals: a subset of {"logs", "traces", "metrics"}."""
        sink = self._sink
        if sink is None:
            return frozenset()
        flags = (("logs", sink.logs), ("traces", sink.traces), ("metrics", sink.metrics))
        return frozenset(name for name, on in flags if on)

    @property
    def settings(self) -> OtelSettings:
        return self._settings

    @property
    def meta(self) -> SessionMeta:
        return self._meta

    @property
    def warnings(self) -> list[str]:
        """Set-up and export problems so far (export failures never raise)."""
        if self._sink is not None:
            for warning in self._sink.take_warnings():
                if warning not in self._warnings:
                    self._warnings.append(warning)
        return list(self._warnings)

    def update_meta(self, **changes: str) -> None:
        """Change session metadata (e.g. ``model=...`` once known, ``conversation_id=...``)."""
        self._meta = replace(self._meta, **changes)
        self._refresh_common()

    def register_secret(self, secret: str) -> None:
        """Never export ``secret`` anywhere (API keys, proxy passwords; 8+ characters)."""
        self._redact.add(secret)

    def _refresh_common(self) -> None:
        meta = self._meta
        span: dict[str, AttributeValue] = {
            "conversation.id": meta.conversation_id,
            "app.version": self._version,
            "auth_mode": meta.auth_mode,
            "originator": self._originator,
            "terminal.type": meta.terminal_type,
            "model": meta.model,
            "slug": meta.slug,
        }
        span = {k: self._redact(str(v)) for k, v in span.items() if v != ""}
        log = dict(span)
        if meta.user_account_id:
            log["user.account_id"] = self._redact(meta.user_account_id)
        if meta.user_email:
            log["user.email"] = self._redact(meta.user_email)
        self._span_common = span
        self._log_common = log
        tags = {
            "auth_mode": meta.auth_mode,
            "session_source": meta.session_source,
            "originator": self._originator,
            "service_name": self._originator,
            "model": meta.model,
            "app_version": self._version,
        }
        self._metric_common = {k: sanitize_tag_value(self._redact(v)) for k, v in tags.items() if v}

    # -- plumbing ----------------------------------------------------------------------------

    def _clean(self, attributes: Mapping[str, object]) -> dict[str, AttributeValue]:
        out: dict[str, AttributeValue] = {}
        for key, value in attributes.items():
            if value is None:
                continue
            if isinstance(value, StrEnum):
                out[key] = value.value
            elif type(value) is _Redacted:
                out[key] = str(value)  # content: redacted (and cut) once already
            elif isinstance(value, str):
                out[key] = self._redact(value)
            elif isinstance(value, bool | int | float):
                out[key] = value
            else:
                out[key] = self._redact(str(value))
        return out

    def _content(self, text: str) -> str:
        return _Redacted(self._redact.content(text))

    def _event(
        self,
        sink: Sink,
        name: Event,
        log: Mapping[str, object] | None,
        trace: Mapping[str, object] | None,
    ) -> None:
        if log is not None and sink.logs:
            attributes = {
                **self._log_common,
                "event.name": name.value,
                "event.timestamp": _timestamp(),
                **self._clean(log),
            }
            sink.log(name.value, attributes)
        if trace is not None and sink.traces:
            attributes = {**self._span_common, "event.name": name.value, **self._clean(trace)}
            scope = _CURRENT.get()
            if scope is not None and scope._sink is sink and scope._span is not None:
                scope._span.add_event(name.value, attributes)
            else:
                span = sink.start_span(name.value, self._span_attributes(), None)
                span.add_event(name.value, attributes)
                span.end()

    def _span_attributes(self) -> dict[str, AttributeValue]:
        extra = {k: self._redact(v) for k, v in self._settings.span_attributes.items()}
        return {**extra, **self._span_common}

    def _tags(self, tags: Mapping[str, object]) -> dict[str, str]:
        out = dict(self._metric_common)
        for key, value in tags.items():
            if value is None:
                continue
            if isinstance(value, str):  # StrEnum included
                value = self._redact(str(value))
            out[validate_tag_key(key)] = sanitize_tag_value(value)
        return out

    def _count(
        self, sink: Sink, metric: Metric, tags: Mapping[str, object], value: int = 1
    ) -> None:
        if sink.metrics:
            sink.add(metric, value, self._tags(tags))

    def _duration(self, sink: Sink, metric: Metric, ms: float, tags: Mapping[str, object]) -> None:
        if sink.metrics:
            sink.record(metric, max(float(ms), 0.0), self._tags(tags))

    # -- events (spec §2.4) ------------------------------------------------------------------

    def conversation_starts(
        self,
        *,
        provider_name: str,
        approval_policy: str,
        sandbox_policy: str,
        reasoning_effort: str | None = None,
        reasoning_summary: str | None = None,
        context_window: int | None = None,
        auto_compact_token_limit: int | None = None,
        mcp_servers: Sequence[str] = (),
        active_profile: str | None = None,
    ) -> None:
        """``codex.conversation_starts`` (+ ``codex.thread.started``): once per session."""
        sink = self._sink
        if sink is None:
            return
        base = {
            "provider_name": provider_name,
            "reasoning_effort": reasoning_effort,
            "reasoning_summary": reasoning_summary,
            "context_window": context_window,
            "auto_compact_token_limit": auto_compact_token_limit,
            "approval_policy": approval_policy,
            "sandbox_policy": sandbox_policy,
            "active_profile": active_profile,
        }
        self._event(
            sink,
            Event.CONVERSATION_STARTS,
            {**base, "mcp_servers": ",".join(mcp_servers)},
            {**base, "mcp_server_count": len(mcp_servers)},
        )
        self._count(sink, Metric.THREAD_STARTED, {})

    def api_request(
        self,
        *,
        attempt: int,
        duration_ms: float,
        status_code: int | None = None,
        error: str | None = None,
        endpoint: str | None = None,
        auth_header_attached: bool | None = None,
        auth_header_name: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """``codex.api_request``: one per HTTP attempt to the model provider."""
        sink = self._sink
        if sink is None:
            return
        success = error is None and status_code is not None and 200 <= status_code < 300
        attributes = {
            "attempt": attempt,
            "duration_ms": int(duration_ms),
            "http.response.status_code": status_code,
            "error.message": error,
            "endpoint": endpoint,
            "auth.header_attached": auth_header_attached,
            "auth.header_name": auth_header_name,
            "auth.request_id": request_id,
        }
        self._event(sink, Event.API_REQUEST, attributes, attributes)
        tags = {"status": status_code if status_code is not None else "none", "success": success}
        self._count(sink, Metric.API_REQUEST, tags)
        self._duration(sink, Metric.API_REQUEST_DURATION, duration_ms, tags)

    def sse_event(
        self,
        *,
        kind: str,
        duration_ms: float,
        error: str | None = None,
        usage: TokenUsage | None = None,
    ) -> None:
        """``codex.sse_event``: one per streamed response event (token counts on completion)."""
        sink = self._sink
        if sink is None:
            return
        attributes: dict[str, object] = {
            "event.kind": kind,
            "duration_ms": int(duration_ms),
            "error.message": error,
        }
        if usage is not None:
            attributes.update(
                input_token_count=usage.input_tokens,
                output_token_count=usage.output_tokens,
                cached_token_count=usage.cached_input_tokens,
                reasoning_token_count=usage.reasoning_output_tokens,
                tool_token_count=usage.tool_tokens,
            )
        self._event(sink, Event.SSE_EVENT, attributes, attributes)
        tags = {"kind": kind, "success": error is None}
        self._count(sink, Metric.SSE_EVENT, tags)
        self._duration(sink, Metric.SSE_EVENT_DURATION, duration_ms, tags)

    def user_prompt(
        self,
        prompt: str,
        *,
        text_inputs: int = 1,
        image_inputs: int = 0,
        local_image_inputs: int = 0,
    ) -> None:
        """``codex.user_prompt``: the text only on logs, and only with ``log_user_prompt``."""
        sink = self._sink
        if sink is None:
            return
        text = self._content(prompt) if self._settings.log_user_prompt else REDACTED
        self._event(
            sink,
            Event.USER_PROMPT,
            {"prompt_length": len(prompt), "prompt": text},
            {
                "prompt_length": len(prompt),
                "text_input_count": text_inputs,
                "image_input_count": image_inputs,
                "local_image_input_count": local_image_inputs,
            },
        )

    def tool_decision(
        self,
        *,
        tool_name: str,
        call_id: str,
        decision: ToolDecision | str,
        source: DecisionSource | str,
    ) -> None:
        """``codex.tool_decision`` (logs only): who allowed or refused a tool call."""
        sink = self._sink
        if sink is None:
            return
        attributes = {
            "tool_name": tool_name,
            "call_id": call_id,
            "decision": decision,
            "source": source,
        }
        self._event(sink, Event.TOOL_DECISION, attributes, None)

    def tool_result(
        self,
        *,
        tool_name: str,
        call_id: str,
        arguments: str,
        output: str,
        duration_ms: float,
        success: bool,
        mcp_server: str | None = None,
        mcp_server_origin: str | None = None,
    ) -> None:
        """``codex.tool_result``: arguments and output on logs; their sizes on traces."""
        sink = self._sink
        if sink is None:
            return
        is_mcp = bool(mcp_server)
        self._event(
            sink,
            Event.TOOL_RESULT,
            {
                "tool_name": tool_name,
                "call_id": call_id,
                "arguments": self._content(arguments),
                "duration_ms": int(duration_ms),
                "success": _flag(success),
                "output": self._content(output),
                "mcp_server": mcp_server or "",
                "mcp_server_origin": mcp_server_origin or "",
            },
            {
                "tool_name": tool_name,
                "call_id": call_id,
                "duration_ms": int(duration_ms),
                "success": _flag(success),
                "arguments_length": len(arguments),
                "output_length": len(output),
                "output_line_count": _lines(output),
                "tool_origin": "mcp" if is_mcp else "builtin",
                "mcp_tool": is_mcp,
            },
        )
        tags = {"tool": tool_name, "success": success}
        self._count(sink, Metric.TOOL_CALL, tags)
        self._duration(sink, Metric.TOOL_CALL_DURATION, duration_ms, tags)
        scope = _CURRENT.get()
        if isinstance(scope, ToolCallScope) and scope._sink is sink:
            scope._finished(len(arguments), len(output), _lines(output), success)

    def sandbox_outcome(
        self,
        *,
        tool_name: str,
        call_id: str,
        outcome: str,
        initial_duration_ms: float,
        escalated_duration_ms: float | None = None,
        sandbox: str | None = None,
    ) -> None:
        """``codex.sandbox_outcome``: how the sandboxed run ended (e.g. ``success``,
        ``sandbox_denied``, ``timeout``, ``escalated``)."""
        sink = self._sink
        if sink is None:
            return
        attributes = {
            "tool_name": tool_name,
            "call_id": call_id,
            "outcome": outcome,
            "initial_duration_ms": int(initial_duration_ms),
            "escalated_duration_ms": (
                int(escalated_duration_ms) if escalated_duration_ms is not None else None
            ),
            "sandbox": sandbox,
        }
        self._event(sink, Event.SANDBOX_OUTCOME, attributes, attributes)
        self._count(sink, Metric.SANDBOX_OUTCOME, {"outcome": outcome, "sandbox": sandbox})

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

    def execpolicy_decision(
        self,
        *,
        call_id: str,
        command: Sequence[str] | str,
        decision: str,
        source: str,
        matched_rules: Sequence[str] = (),
        justification: str | None = None,
        tool_name: str = "shell",
    ) -> None:
        """``codex.execpolicy.decision``: what the command rules said (``allow`` | ``prompt`` |
        ``forbidden``) and why (``source``: ``rule`` | ``heuristics`` | ``requirements`` ...).

        The command text is content: logs only. Traces get the decision and sizes.
        """
        sink = self._sink
        if sink is None:
            return
        text = command if isinstance(command, str) else " ".join(_shell_quote(a) for a in command)
        words = 1 if isinstance(command, str) else len(command)
        self._event(
            sink,
            Event.EXECPOLICY_DECISION,
            {
                "tool_name": tool_name,
                "call_id": call_id,
                "command": self._content(text),
                "decision": decision,
                "source": source,
                "matched_rules": "; ".join(matched_rules),
                "justification": justification,
            },
            {
                "tool_name": tool_name,
                "call_id": call_id,
                "decision": decision,
                "source": source,
                "command_length": len(text),
                "argv_count": words,
                "matched_rule_count": len(matched_rules),
            },
        )
        self._count(sink, Metric.EXECPOLICY_DECISION, {"decision": decision, "source": source})

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
            "requirements.rejected": _text(rejected),
            "requirements.value": _text(value),
            "requirements.allowed": _text(allowed),
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

    # -- spans -------------------------------------------------------------------------------

    def turn(self, turn_id: str, *, model: str | None = None) -> TurnScope:
        """A ``codex.turn`` span around one turn; records the ``codex.turn.*`` metrics at exit.

        Use as ``with telemetry.turn(turn_id) as turn:``; events emitted inside (in the same task
        or tasks it starts) become span events of the turn.
        """
        if self._sink is None:
            return _NOOP_TURN
        return TurnScope(self, self._sink, turn_id, model)

    def tool_call(
        self, tool_name: str, call_id: str, *, mcp_server: str | None = None
    ) -> ToolCallScope:
        """A ``codex.tool_call`` span around one tool call (sizes and counts only)."""
        if self._sink is None:
            return _NOOP_TOOL
        return ToolCallScope(self, self._sink, tool_name, call_id, mcp_server)

    # -- lifecycle ---------------------------------------------------------------------------

    def force_flush(self, timeout: float = 2.0) -> bool:
        """Export what is queued now; blocks the calling thread at most ``timeout`` seconds."""
        sink = self._sink
        return True if sink is None or self._stopped else sink.force_flush(timeout)

    def shutdown(self, timeout: float | None = None) -> ShutdownReport:
        """Flush and stop, within ``timeout`` seconds (default: the session's flush bound).

        Idempotent. Never raises for export problems: they are in the report's warnings. Call it
        from a worker thread (``await asyncio.to_thread(telemetry.shutdown)``) inside an event
        loop; it is also run at interpreter exit if forgotten.
        """
        start = time.monotonic()
        sink = self._sink
        if sink is None or self._stopped:
            return ShutdownReport(True, 0.0, tuple(self.warnings))
        self._stopped = True
        bound = sink.flush_timeout if timeout is None else timeout
        flushed = sink.shutdown(bound)
        return ShutdownReport(flushed, time.monotonic() - start, tuple(self.warnings))


def _text(value: object) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


_SAFE_ARG = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-")


def _shell_quote(arg: str) -> str:
    if arg and all(ch in _SAFE_ARG for ch in arg):
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"


class _Scope:
    """Common part of turn and tool-call scopes: a span (when traces are on) + a contextvar."""

    __slots__ = ("_sink", "_span", "_start", "_telemetry", "_token")

    def __init__(self, telemetry: Telemetry | None, sink: Sink | None) -> None:
        self._telemetry = telemetry
        self._sink = sink
        self._span: SpanHandle | None = None
        self._start = time.monotonic()
        self._token: Token[_Scope | None] | None = None

    def _open(self, name: str, attributes: Mapping[str, object]) -> None:
        telemetry, sink = self._telemetry, self._sink
        if telemetry is None or sink is None:
            return
        parent = _CURRENT.get()
        if sink.traces:
            parent_span = parent._span if parent is not None and parent._sink is sink else None
            span_attrs = {**telemetry._span_attributes(), **telemetry._clean(attributes)}
            self._span = sink.start_span(name, span_attrs, parent_span)
        self._start = time.monotonic()
        self._token = _CURRENT.set(self)

    def _close(self) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)
            self._token = None
        if self._span is not None:
            self._span.end()

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self._start) * 1000.0


class TurnScope(_Scope):
    """The open ``codex.turn`` span. Mark the first token / first message and add token usage."""

    __slots__ = ("_failed", "_model", "_tool_calls", "_ttfm", "_ttft", "_turn_id", "_usage")

    def __init__(
        self, telemetry: Telemetry | None, sink: Sink | None, turn_id: str, model: str | None
    ) -> None:
        super().__init__(telemetry, sink)
        self._turn_id = turn_id
        self._model = model
        self._tool_calls = 0
        self._ttft: float | None = None
        self._ttfm: float | None = None
        self._usage: TokenUsage | None = None
        self._failed = False

    def __enter__(self) -> TurnScope:
        self._open("codex.turn", {"turn.id": self._turn_id, "model": self._model})
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        telemetry, sink = self._telemetry, self._sink
        if telemetry is None or sink is None:
            return
        tags: dict[str, object] = {"success": exc_type is None and not self._failed}
        telemetry._duration(sink, Metric.TURN_E2E_DURATION, self.elapsed_ms(), tags)
        if self._ttft is not None:
            telemetry._duration(sink, Metric.TURN_TTFT_DURATION, self._ttft, {})
        if self._ttfm is not None:
            telemetry._duration(sink, Metric.TURN_TTFM_DURATION, self._ttfm, {})
        telemetry._count(sink, Metric.TURN_TOOL_CALL, {}, self._tool_calls)
        usage = self._usage
        if usage is not None:
            for token_type, count in usage.by_type().items():
                telemetry._count(sink, Metric.TURN_TOKEN_USAGE, {"token_type": token_type}, count)
        if self._span is not None:
            attributes: dict[str, AttributeValue] = {"tool_call_count": self._tool_calls}
            if usage is not None:
                attributes.update(
                    {
                        "gen_ai.usage.input_tokens": usage.input_tokens,
                        "gen_ai.usage.cache_read.input_tokens": usage.cached_input_tokens,
                        "gen_ai.usage.output_tokens": usage.output_tokens,
                        "codex.usage.reasoning_output_tokens": usage.reasoning_output_tokens,
                        "codex.usage.total_tokens": usage.total,
                    }
                )
            self._span.set_attributes(attributes)
        self._close()

    def failed(self) -> None:
        """The turn ended in failure without an exception (``success=false`` on its metrics)."""
        self._failed = True

    def first_token(self) -> None:
        """The first streamed token arrived (``codex.turn.ttft.duration_ms``)."""
        if self._sink is not None and self._ttft is None:
            self._ttft = self.elapsed_ms()

    def first_message(self) -> None:
        """The first complete assistant message arrived (``codex.turn.ttfm.duration_ms``)."""
        if self._sink is not None and self._ttfm is None:
            self._ttfm = self.elapsed_ms()

    def token_usage(self, usage: TokenUsage) -> None:
        """Add a response's usage; exported at turn end (``codex.turn.token_usage``)."""
        if self._sink is not None:
            self._usage = usage if self._usage is None else self._usage + usage


class ToolCallScope(_Scope):
    """The open ``codex.tool_call`` span; :meth:`Telemetry.tool_result` fills in its sizes."""

    __slots__ = ("_call_id", "_mcp_server", "_tool_name")

    def __init__(
        self,
        telemetry: Telemetry | None,
        sink: Sink | None,
        tool_name: str,
        call_id: str,
        mcp_server: str | None,
    ) -> None:
        super().__init__(telemetry, sink)
        self._tool_name = tool_name
        self._call_id = call_id
        self._mcp_server = mcp_server

    def __enter__(self) -> ToolCallScope:
        parent = _CURRENT.get()
        if isinstance(parent, TurnScope) and parent._sink is self._sink:
            parent._tool_calls += 1
        self._open(
            "codex.tool_call",
            {
                "tool_name": self._tool_name,
                "call_id": self._call_id,
                "tool_origin": "mcp" if self._mcp_server else "builtin",
                "mcp_tool": bool(self._mcp_server),
            },
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._sink is not None:
            if self._span is not None:
                self._span.set_attributes({"duration_ms": int(self.elapsed_ms())})
            self._close()

    def _finished(self, arguments_length: int, output_length: int, lines: int, ok: bool) -> None:
        if self._span is not None:
            self._span.set_attributes(
                {
                    "arguments_length": arguments_length,
                    "output_length": output_length,
                    "output_line_count": lines,
                    "success": _flag(ok),
                }
            )


_NOOP_TURN = TurnScope(None, None, "", None)
_NOOP_TOOL = ToolCallScope(None, None, "", "", None)
