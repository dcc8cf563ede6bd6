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

Module map: ``telemetry`` (:class:`Telemetry`: state, spans, lifecycle), the emitter families
``model_events``, ``tool_events`` and ``governance_events``, ``core`` (the routes to logs,
traces and metrics, the open-scope context), ``scopes`` (:class:`TurnScope`,
:class:`ToolCallScope`) and ``content`` (redaction of exported values, Codex's spellings).
Loaded only when an exporter is configured (the package's lazy names import it on first use).
"""

from codex_admin.telemetry.session.scopes import ToolCallScope, TurnScope
from codex_admin.telemetry.session.telemetry import Telemetry

__all__ = ["Telemetry", "ToolCallScope", "TurnScope"]
