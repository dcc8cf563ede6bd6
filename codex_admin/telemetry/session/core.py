"""Where one event goes: the session's state and its routes to logs, traces and metrics.

:class:`TelemetryCore` holds the sink, the settings, the redactor and the common attributes of
each signal (spec §2.3: logs also carry the user's e-mail and account id, spans never do; metric
tags follow §2.5). An emitter hands :meth:`TelemetryCore._event` a log form and a trace form of
its attributes: the log form becomes a log record, the trace form a span event on the innermost
open :class:`Scope` of the running task (or on a zero-length span of its own); ``None`` skips a
signal (log-only events). :meth:`_count` and :meth:`_duration` record metrics. Each route costs
one flag test when its signal is off.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar, Token

from codex_admin.telemetry.model import AttributeValue, SessionMeta, Sink, SpanHandle
from codex_admin.telemetry.names import Event, Metric, sanitize_tag_value, validate_tag_key
from codex_admin.telemetry.redaction import Redactor
from codex_admin.telemetry.session.content import Redacted, clean, timestamp
from codex_admin.telemetry.settings import OtelSettings

__all__ = ["Scope", "TelemetryCore", "current_scope"]

# The innermost open turn / tool-call scope of the running task (asyncio tasks copy it).
_CURRENT: ContextVar[Scope | None] = ContextVar("codex_telemetry_scope", default=None)


def current_scope() -> Scope | None:
    """The innermost open turn or tool-call scope of the running task, if any."""
    return _CURRENT.get()


class TelemetryCore:
    """The state and routing every emitter family shares (see the module docstring)."""

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

    def _content(self, text: str) -> str:
        """``text`` as content: redacted and cut once (logs only; callers see to that)."""
        return Redacted(self._redact.content(text))

    def _event(
        self,
        sink: Sink,
        name: Event,
        log: Mapping[str, object] | None,
        trace: Mapping[str, object] | None,
    ) -> None:
        """Send event ``name``: ``log`` as a log record, ``trace`` as a span event (None: not
        on that signal)."""
        if log is not None and sink.logs:
            attributes = {
                **self._log_common,
                "event.name": name.value,
                "event.timestamp": timestamp(),
                **clean(log, self._redact),
            }
            sink.log(name.value, attributes)
        if trace is not None and sink.traces:
            attributes = {
                **self._span_common,
                "event.name": name.value,
                **clean(trace, self._redact),
            }
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


class Scope:
    """Common part of turn and tool-call scopes: a span (when traces are on) + a contextvar."""

    __slots__ = ("_sink", "_span", "_start", "_telemetry", "_token")

    def __init__(self, telemetry: TelemetryCore | None, sink: Sink | None) -> None:
        self._telemetry = telemetry
        self._sink = sink
        self._span: SpanHandle | None = None
        self._start = time.monotonic()
        self._token: Token[Scope | None] | None = None

    def _open(self, name: str, attributes: Mapping[str, object]) -> None:
        telemetry, sink = self._telemetry, self._sink
        if telemetry is None or sink is None:
            return
        parent = _CURRENT.get()
        if sink.traces:
            parent_span = parent._span if parent is not None and parent._sink is sink else None
            span_attrs = {**telemetry._span_attributes(), **clean(attributes, telemetry._redact)}
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
