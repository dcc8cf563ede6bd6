"""The live sink: OpenTelemetry SDK providers, batch processors and a bounded shutdown.

Imported only when at least one exporter is configured (the SDK costs ~300 ms to import).

Pipeline per signal (spec §2.6): logs through a batch log-record processor, spans through a batch
span processor, metrics through a periodic reader (``OTEL_METRIC_EXPORT_INTERVAL``, default 60 s)
that also exports once at shutdown, so `codex exec` does export its metrics. Each provider is
private to the session: nothing global is installed, and the SDK's own ``atexit`` hooks are off.

Resources (spec §2.2): ``service.name`` = originator, ``service.version``, ``env``; the logs
resource alone adds ``host.name`` (trimmed, omitted when empty). ``OTEL_RESOURCE_ATTRIBUTES`` is
honoured below ours (so a deployment can add ``team=...``), and every resource string is redacted.

Shutdown: traces, then metrics, then logs are flushed and shut down on a daemon thread named
``codex-otel-shutdown``; the caller waits at most the flush bound (default 2 s, see
:func:`~codex_admin.telemetry.factory.flush_timeout_from_env`), so a stalled or dead receiver
never holds the process longer. What is not exported by then is dropped with a warning. An
``atexit`` hook does the same when the owner forgot to shut down. The SDK's log messages never
reach stderr: the reason it logs for a failed export becomes the detail of that session's warning
(attributed by thread, so concurrent sessions never see each other's trouble).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import unquote

from google.protobuf.message import Error as ProtobufError
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.sdk.version import __version__ as _sdk_version
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from codex_admin.telemetry.exporters import DELTA, ExporterSetupError, build_exporter
from codex_admin.telemetry.model import AttributeValue, SpanHandle
from codex_admin.telemetry.names import Metric, MetricKind
from codex_admin.telemetry.redaction import Redactor
from codex_admin.telemetry.settings import ExporterSettings, OtelSettings, Signal

__all__ = ["DURATION_BUCKETS_MS", "OtelSdkSink"]

SCOPE_NAME = "codex_otel"
# Milliseconds, from a fast tool call to a ten-minute turn.
DURATION_BUCKETS_MS = (
    1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
    30000.0, 60000.0, 120000.0, 300000.0, 600000.0,
)  # fmt: skip
_MAX_WARNINGS = 50


class _Warnings:
    """A bounded, de-duplicated list of warnings shared by a sink and its exporters."""

    def __init__(self, redact: Redactor) -> None:
        self._lock = threading.Lock()
        self._items: list[str] = []
        self._taken = 0
        self._redact = redact

    def add(self, text: str) -> None:
        text = self._redact(text)
        with self._lock:
            if text not in self._items and len(self._items) < _MAX_WARNINGS:
                self._items.append(text)

    def take(self) -> list[str]:
        with self._lock:
            new = self._items[self._taken :]
            self._taken = len(self._items)
            return new


# What an exporter may raise on bad transport or data (requests' errors are OSErrors).
_EXPORT_ERRORS = (OSError, ValueError, TypeError, RuntimeError, LookupError, ProtobufError)

# The export running on this thread (set by the wrappers below), so the SDK's log messages are
# attributed to the session that owns the exporter and to no other.
_EXPORTING = threading.local()


class _SdkLogCapture(logging.Handler):
    """Keeps the SDK's own log messages off the user's terminal.

    A message logged while one of our exporters runs (the SDK logs the reason of a failed export
    from the exporting thread) becomes the detail of that export's failure warning; anything else
    is dropped.
    """

    installed: ClassVar[bool] = False

    def emit(self, record: logging.LogRecord) -> None:
        outcome = getattr(_EXPORTING, "outcome", None)
        if outcome is not None and record.levelno >= logging.WARNING:
            outcome.detail = record.getMessage()

    @classmethod
    def install(cls) -> None:
        if not cls.installed:
            logger = logging.getLogger("opentelemetry")
            logger.addHandler(cls())
            logger.propagate = False  # never print export trouble on the user's terminal
            cls.installed = True


class _Outcome:
    """Records each export's result for one signal (failures become warnings)."""

    def __init__(self, signal: Signal, endpoint: str, warnings: _Warnings) -> None:
        self.signal = signal
        self.endpoint = endpoint
        self.ok = 0
        self.failed = 0
        self.detail: str | None = None
        self._warnings = warnings

    def run(self, exporter: Any, export: Callable[[], Any], success: Any, failure: Any) -> Any:
        """Call ``export`` with this outcome current on the thread; record its result.

        Some SDK versions let transport errors escape ``export`` (e.g. requests' SSLError from
        the HTTP metric exporter); they become a FAILURE here instead of killing the SDK's worker
        or our shutdown thread.
        """
        self.detail = None
        _EXPORTING.outcome = self
        try:
            result = export()
        except _EXPORT_ERRORS as err:
            self.detail = f"{type(err).__name__}: {err}"
            result = failure
        finally:
            _EXPORTING.outcome = None
        if result is success:
            self.ok += 1
            return result
        self.failed += 1
        detail = _detail(exporter) or self.detail
        suffix = f": {detail}" if detail else ""
        self._warnings.add(
            f"telemetry: exporting {self.signal.value} to {self.endpoint} failed{suffix}"
            " (the run goes on; the data is dropped)"
        )
        return result


def _detail(exporter: Any) -> str | None:
    """The failure reason our JSON exporter keeps (the SDK's exporters log theirs instead)."""
    client = getattr(exporter, "client", None)
    error = getattr(client, "last_error", None)
    return str(error) if error else None


class _LogExporter(LogRecordExporter):
    def __init__(self, inner: LogRecordExporter, outcome: _Outcome) -> None:
        self._inner, self._outcome = inner, outcome

    def export(self, batch: Any) -> LogRecordExportResult:
        return self._outcome.run(  # type: ignore[no-any-return]
            self._inner,
            lambda: self._inner.export(batch),
            LogRecordExportResult.SUCCESS,
            LogRecordExportResult.FAILURE,
        )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self._inner.shutdown()  # type: ignore[no-untyped-call]


class _SpanExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, outcome: _Outcome) -> None:
        self._inner, self._outcome = inner, outcome

    def export(self, spans: Any) -> SpanExportResult:
        return self._outcome.run(  # type: ignore[no-any-return]
            self._inner,
            lambda: self._inner.export(spans),
            SpanExportResult.SUCCESS,
            SpanExportResult.FAILURE,
        )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self._inner.shutdown()


class _MetricExporter(MetricExporter):
    def __init__(self, inner: MetricExporter, outcome: _Outcome) -> None:
        super().__init__(preferred_temporality=DELTA)
        self._inner, self._outcome = inner, outcome

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return self._outcome.run(  # type: ignore[no-any-return]
            self._inner,
            lambda: self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
            MetricExportResult.SUCCESS,
            MetricExportResult.FAILURE,
        )

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)


class _TraceStateSampler(Sampler):
    """Parent-based always-on sampling that upserts the configured `tracestate` members."""

    def __init__(self, members: Mapping[str, str]) -> None:
        self._inner = ParentBased(ALWAYS_ON)
        self._members = dict(members)

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        result = self._inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        if result.decision is Decision.DROP:
            return result
        state = result.trace_state or TraceState()
        for key, value in self._members.items():
            state = state.update(key, value) if key in state else state.add(key, value)
        return SamplingResult(result.decision, result.attributes, state)

    def get_description(self) -> str:
        return "CodexTraceState"


class _Span:
    """A started SDK span with the session's redaction applied to late attributes."""

    __slots__ = ("span",)

    def __init__(self, span: otel_trace.Span) -> None:
        self.span = span

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        self.span.set_attributes(dict(attributes))

    def add_event(self, name: str, attributes: Mapping[str, AttributeValue]) -> None:
        self.span.add_event(name, dict(attributes))

    def end(self) -> None:
        self.span.end()


def _host_name() -> str:
    try:
        return socket.gethostname().strip()
    except OSError:
        return ""


class OtelSdkSink:
    """A :class:`~codex_admin.telemetry.model.Sink` over the OpenTelemetry SDK."""

    def __init__(
        self,
        settings: OtelSettings,
        *,
        originator: str,
        version: str,
        redact: Redactor,
        flush_timeout: float,
        environ: Mapping[str, str],
        host_name: Callable[[], str] = _host_name,
    ) -> None:
        self.flush_timeout = flush_timeout
        self._warnings = _Warnings(redact)
        self._lock = threading.Lock()
        self._instruments: dict[Metric, Any] = {}
        self._stopped = False
        self.outcomes: dict[Signal, _Outcome] = {}
        self._inner_exporters: list[Any] = []
        _SdkLogCapture.install()

        base = {"service.name": originator, "service.version": version, "env": settings.environment}
        attributes = {**_SDK_ATTRIBUTES, **_resource_attributes(environ), **base}
        resource = Resource({k: redact(v) for k, v in attributes.items()})
        host = host_name()
        log_resource = resource.merge(Resource({"host.name": host})) if host else resource

        self._logger_provider: LoggerProvider | None = None
        self._tracer_provider: TracerProvider | None = None
        self._meter_provider: MeterProvider | None = None
        # Spans start from TRACEPARENT's context, never from whatever the process has current.
        self._root_context = _parent_context(environ) or otel_context.Context()

        logs = self._exporter(Signal.LOGS, settings.logs, environ)
        if logs is not None:
            self._logger_provider = LoggerProvider(resource=log_resource, shutdown_on_exit=False)
            self._logger_provider.add_log_record_processor(BatchLogRecordProcessor(logs))
            self._logger = self._logger_provider.get_logger(SCOPE_NAME, version)
        traces = self._exporter(Signal.TRACES, settings.traces, environ)
        if traces is not None:
            self._tracer_provider = TracerProvider(
                resource=resource,
                sampler=_TraceStateSampler(settings.tracestate),
                shutdown_on_exit=False,
            )
            self._tracer_provider.add_span_processor(BatchSpanProcessor(traces))
            self._tracer = self._tracer_provider.get_tracer(SCOPE_NAME, version)
        metrics = self._exporter(Signal.METRICS, settings.metrics, environ)
        if metrics is not None:
            reader = PeriodicExportingMetricReader(metrics)
            self._meter_provider = MeterProvider(
                resource=resource, metric_readers=[reader], shutdown_on_exit=False
            )
            self._meter = self._meter_provider.get_meter(SCOPE_NAME, version)

        self.logs = self._logger_provider is not None
        self.traces = self._tracer_provider is not None
        self.metrics = self._meter_provider is not None
        atexit.register(self._at_exit)

    @property
    def active(self) -> bool:
        return self.logs or self.traces or self.metrics

    def _exporter(
        self, signal: Signal, settings: ExporterSettings | None, environ: Mapping[str, str]
    ) -> Any:
        if settings is None:
            return None
        try:
            inner = build_exporter(signal, settings, environ)
        except ExporterSetupError as err:
            self._warnings.add(f"telemetry: {signal.value} not exported: {err}")
            return None
        outcome = _Outcome(signal, settings.endpoint, self._warnings)
        self.outcomes[signal] = outcome
        self._inner_exporters.append(inner)
        if signal is Signal.LOGS:
            return _LogExporter(inner, outcome)
        if signal is Signal.TRACES:
            return _SpanExporter(inner, outcome)
        return _MetricExporter(inner, outcome)

    def _abandon_exports(self) -> None:
        """Stop the exporters' retries once a shutdown ran out of time.

        The shutdown thread is left behind, still inside an export. Without this it goes on
        retrying a dead receiver until every queued batch of every signal has used up its own
        export timeout (measured: 46 s, in a process that may go on running). The SDK
        exporters' own ``shutdown`` sets the event their backoff checks and closes their
        transport, so the thread ends after the request in flight.
        """
        for inner in self._inner_exporters:
            with contextlib.suppress(Exception):  # a shutdown must never raise to its caller
                inner.shutdown()

    # -- Sink --------------------------------------------------------------------------------

    def log(self, name: str, attributes: Mapping[str, AttributeValue]) -> None:
        now = time.time_ns()
        self._logger.emit(
            timestamp=now,
            observed_timestamp=now,
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            body=name,
            attributes=dict(attributes),
            event_name=name,
        )

    def start_span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue],
        parent: SpanHandle | None,
    ) -> SpanHandle:
        if isinstance(parent, _Span):
            ctx = otel_trace.set_span_in_context(parent.span)
        else:
            ctx = self._root_context
        return _Span(self._tracer.start_span(name, context=ctx, attributes=dict(attributes)))

    def add(self, metric: Metric, value: int, tags: Mapping[str, str]) -> None:
        self._instrument(metric).add(value, dict(tags))

    def record(self, metric: Metric, value: float, tags: Mapping[str, str]) -> None:
        self._instrument(metric).record(value, dict(tags))

    def _instrument(self, metric: Metric) -> Any:
        instrument = self._instruments.get(metric)
        if instrument is None:
            with self._lock:
                instrument = self._instruments.get(metric)
                if instrument is None:
                    if metric.kind is MetricKind.HISTOGRAM:
                        instrument = self._meter.create_histogram(
                            metric.value,
                            unit=metric.unit,
                            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS_MS),
                        )
                    else:
                        instrument = self._meter.create_counter(metric.value, unit=metric.unit)
                    self._instruments[metric] = instrument
        return instrument

    def take_warnings(self) -> list[str]:
        return self._warnings.take()

    def force_flush(self, timeout: float) -> bool:
        return self._bounded(timeout, stop=False)

    def shutdown(self, timeout: float) -> bool:
        with self._lock:
            if self._stopped:
                return True
            self._stopped = True
        atexit.unregister(self._at_exit)
        return self._bounded(timeout, stop=True)

    def _at_exit(self) -> None:
        self.shutdown(self.flush_timeout)

    def _providers(self) -> list[Any]:
        # Spec §2.6 order: traces, then metrics, then logs.
        candidates = (self._tracer_provider, self._meter_provider, self._logger_provider)
        return [p for p in candidates if p is not None]

    def _bounded(self, timeout: float, *, stop: bool) -> bool:
        """Flush (and with ``stop`` shut down) on a daemon thread; wait at most ``timeout``."""
        deadline = time.monotonic() + max(timeout, 0.0)
        done = threading.Event()
        flushed: list[bool] = []

        def work() -> None:
            for provider in self._providers():
                remaining_ms = max(int((deadline - time.monotonic()) * 1000), 1)
                flushed.append(bool(provider.force_flush(remaining_ms)))
            if stop:
                for provider in self._providers():
                    provider.shutdown()
            done.set()

        try:
            thread = threading.Thread(target=work, name="codex-otel-shutdown", daemon=True)
            thread.start()
        except RuntimeError as err:  # interpreter shutting down: no flush, never block
            self._warnings.add(f"telemetry: could not flush at exit ({err}); data dropped")
            return False
        thread.join(max(deadline - time.monotonic(), 0.0))
        if not done.is_set():
            if stop:
                self._abandon_exports()
            what = "shut down" if stop else "flush"
            self._warnings.add(
                f"telemetry: {what} did not finish within {timeout:g}s (receiver slow or down);"
                " unsent data is dropped"
            )
            return False
        return all(flushed)


_SDK_ATTRIBUTES = {
    "telemetry.sdk.language": "python",
    "telemetry.sdk.name": "opentelemetry",
    "telemetry.sdk.version": _sdk_version,
}


def _resource_attributes(environ: Mapping[str, str]) -> dict[str, str]:
    """``OTEL_RESOURCE_ATTRIBUTES`` (``k=v,k2=v2``, values percent-encoded) from ``environ``.

    Parsed here rather than by ``Resource.create`` so the session's environment mapping is the
    only source (and ``OTEL_SERVICE_NAME`` cannot rename the service: it is the originator).
    Malformed members are skipped, as the specification asks.
    """
    out: dict[str, str] = {}
    for member in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, sep, value = member.partition("=")
        if sep and key.strip():
            out[key.strip()] = unquote(value.strip())
    return out


def _parent_context(environ: Mapping[str, str]) -> otel_context.Context | None:
    """W3C trace context from ``TRACEPARENT`` / ``TRACESTATE`` (a CI job's trace, say)."""
    traceparent = environ.get("TRACEPARENT")
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if environ.get("TRACESTATE"):
        carrier["tracestate"] = environ["TRACESTATE"]
    ctx = TraceContextTextMapPropagator().extract(carrier, context=otel_context.Context())
    span = otel_trace.get_current_span(ctx)
    return ctx if span.get_span_context().is_valid else None
