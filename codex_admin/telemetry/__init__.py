"""OpenTelemetry export of every governance decision; content only where allowed (spec §2).

Usage (one object per agent session)::

    from codex_admin.telemetry import SessionMeta, start_telemetry

    telemetry = start_telemetry(
        result.config.get("otel"),          # merged [otel] table, or None
        codex_home=result.codex_home,
        originator="codex_exec",            # -> service.name
        version=__version__,                # -> service.version
        meta=SessionMeta(conversation_id=thread_id, model=model, session_source="exec"),
        secrets=[api_key],                  # literal values never exported
    )
    telemetry.conversation_starts(provider_name="openai", approval_policy="never",
                                  sandbox_policy="read-only")
    with telemetry.turn(turn_id) as turn:
        telemetry.user_prompt(prompt)
        with telemetry.tool_call("shell", call_id):
            telemetry.tool_result(tool_name="shell", call_id=call_id, arguments=args,
                                  output=out, duration_ms=12, success=True)
        turn.token_usage(TokenUsage(input_tokens=3, output_tokens=5))
    report = telemetry.shutdown()           # bounded: at most the flush bound (2 s)

Emitters (all keyword-only, no-ops costing one attribute test when nothing is exported):
``conversation_starts``, ``api_request``, ``sse_event``, ``user_prompt``, ``tool_decision``,
``tool_result``, ``sandbox_outcome``, ``network_policy_decision``, ``execpolicy_decision``,
``requirements_fallback``, ``guardian_review``, ``hook_run``; spans ``turn()`` and
``tool_call()``; ``register_secret``, ``update_meta``, ``force_flush``, ``shutdown``,
``warnings``.

Rules (spec §2.3): content (prompt when ``log_user_prompt``, tool arguments/output, commands,
reviewer rationale, hook messages) only on the logs signal; spans carry sizes and counts; every
exported string is redacted (:func:`redact`); metric names and tags follow §2.5
(:func:`sanitize_tag_value`). Export failures are warnings, never errors of the run.

Module map: ``otel_table`` (pydantic model of `[otel]`, used by the config loader), ``settings``
(resolved settings), ``names`` (event/metric names, tag rules), ``redaction``, ``session`` (a
subpackage: :class:`Telemetry`, its emitter families, turn / tool-call scopes and content
rules), ``model`` (value types, the sink protocol), ``factory`` (:func:`start_telemetry`),
and, imported only when an exporter is configured, ``otel_sdk`` (providers, bounded shutdown),
``exporters`` and ``otlp_json`` (the OTLP/HTTP JSON encoder the SDK lacks).

A leaf package: it imports nothing of ours but :mod:`codex_admin.errors`. Names resolve lazily
(PEP 562), so importing the package costs almost nothing and never loads pydantic or the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_admin.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from codex_admin.telemetry.factory import (
        DEFAULT_FLUSH_TIMEOUT,
        DEFAULT_ORIGINATOR,
        FLUSH_TIMEOUT_ENV,
        start_telemetry,
    )
    from codex_admin.telemetry.model import (
        DecisionSource,
        SessionMeta,
        ShutdownReport,
        TokenUsage,
        ToolDecision,
    )
    from codex_admin.telemetry.names import (
        METRICS,
        Event,
        Metric,
        MetricKind,
        sanitize_tag_value,
        validate_metric_name,
        validate_tag_key,
    )
    from codex_admin.telemetry.redaction import REDACTED, Redactor, redact
    from codex_admin.telemetry.session import Telemetry, ToolCallScope, TurnScope
    from codex_admin.telemetry.settings import (
        ExporterSettings,
        OtelSettings,
        Protocol,
        Signal,
        TlsSettings,
        parse_otel_settings,
    )

_EXPORTS: dict[str, str] = {
    "DEFAULT_FLUSH_TIMEOUT": "codex_admin.telemetry.factory",
    "DEFAULT_ORIGINATOR": "codex_admin.telemetry.factory",
    "FLUSH_TIMEOUT_ENV": "codex_admin.telemetry.factory",
    "start_telemetry": "codex_admin.telemetry.factory",
    "METRICS": "codex_admin.telemetry.names",
    "Event": "codex_admin.telemetry.names",
    "Metric": "codex_admin.telemetry.names",
    "MetricKind": "codex_admin.telemetry.names",
    "sanitize_tag_value": "codex_admin.telemetry.names",
    "validate_metric_name": "codex_admin.telemetry.names",
    "validate_tag_key": "codex_admin.telemetry.names",
    "REDACTED": "codex_admin.telemetry.redaction",
    "Redactor": "codex_admin.telemetry.redaction",
    "redact": "codex_admin.telemetry.redaction",
    "DecisionSource": "codex_admin.telemetry.model",
    "SessionMeta": "codex_admin.telemetry.model",
    "ShutdownReport": "codex_admin.telemetry.model",
    "Telemetry": "codex_admin.telemetry.session",
    "TokenUsage": "codex_admin.telemetry.model",
    "ToolCallScope": "codex_admin.telemetry.session",
    "ToolDecision": "codex_admin.telemetry.model",
    "TurnScope": "codex_admin.telemetry.session",
    "ExporterSettings": "codex_admin.telemetry.settings",
    "OtelSettings": "codex_admin.telemetry.settings",
    "Protocol": "codex_admin.telemetry.settings",
    "Signal": "codex_admin.telemetry.settings",
    "TlsSettings": "codex_admin.telemetry.settings",
    "parse_otel_settings": "codex_admin.telemetry.settings",
}

__all__ = [
    "DEFAULT_FLUSH_TIMEOUT",
    "DEFAULT_ORIGINATOR",
    "FLUSH_TIMEOUT_ENV",
    "METRICS",
    "REDACTED",
    "DecisionSource",
    "Event",
    "ExporterSettings",
    "Metric",
    "MetricKind",
    "OtelSettings",
    "Protocol",
    "Redactor",
    "SessionMeta",
    "ShutdownReport",
    "Signal",
    "Telemetry",
    "TlsSettings",
    "TokenUsage",
    "ToolCallScope",
    "ToolDecision",
    "TurnScope",
    "parse_otel_settings",
    "redact",
    "sanitize_tag_value",
    "start_telemetry",
    "validate_metric_name",
    "validate_tag_key",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
