"""One OpenTelemetry SDK exporter per configured signal, from :class:`ExporterSettings`.

- ``http/protobuf``: the SDK's OTLP/HTTP exporters (``opentelemetry-exporter-otlp-proto-http``);
- ``grpc``: the SDK's OTLP/gRPC exporters (``https://`` endpoints use TLS with the configured CA
  and client certificate, ``http://`` endpoints are plaintext);
- ``http/json``: :mod:`codex_admin.telemetry.otlp_json` (the SDK has no JSON exporter).

HTTP endpoints are used as written (Codex's examples give the full signal URL, e.g.
``https://collector:4318/v1/logs``); an endpoint with no path gets the standard ``/v1/<signal>``.
Export timeouts follow the Python SDK's environment convention, in seconds:
``OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT``, then ``OTEL_EXPORTER_OTLP_TIMEOUT``, default 10.
Metrics use delta temporality for counters and histograms, as Codex does, so many short-lived
`codex exec` processes add up in the backend (the Collector's ``deltatocumulative`` processor
converts for Prometheus).

Building can fail on bad local material (a missing or unreadable TLS file): that raises
:class:`ExporterSetupError`, which the session reports as a warning and exports that signal no
further. Everything here is imported only when an exporter is configured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality

from codex_admin.telemetry.settings import ExporterSettings, Protocol, Signal

__all__ = [
    "DELTA",
    "ExporterSetupError",
    "build_exporter",
    "export_timeout",
    "signal_endpoint",
]

DELTA: dict[type, AggregationTemporality] = {
    Counter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
    ObservableCounter: AggregationTemporality.DELTA,
    UpDownCounter: AggregationTemporality.CUMULATIVE,
    ObservableUpDownCounter: AggregationTemporality.CUMULATIVE,
    ObservableGauge: AggregationTemporality.CUMULATIVE,
}
_DEFAULT_TIMEOUT = 10.0


class ExporterSetupError(Exception):
    """An exporter could not be built (the message is safe to show: no header values)."""


def export_timeout(signal: Signal, environ: Mapping[str, str]) -> float:
    """Seconds one export may take (see the module docstring for the variables)."""
    names = (f"OTEL_EXPORTER_OTLP_{signal.value.upper()}_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
    for name in names:
        raw = environ.get(name)
        if raw:
            try:
                value = float(raw)
            except ValueError:
                continue
            if value > 0:
                return value
    return _DEFAULT_TIMEOUT


def signal_endpoint(endpoint: str, signal: Signal) -> str:
    """The HTTP URL to POST ``signal`` to: as written, or with ``/v1/<signal>`` when pathless."""
    parts = urlsplit(endpoint)
    if parts.path in ("", "/"):
        return urlunsplit(parts._replace(path=f"/v1/{signal.value}"))
    return endpoint


def _read(path: Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as err:
        raise ExporterSetupError(f"cannot read the {what} {path}: {err.strerror or err}") from None


def _check_files(settings: ExporterSettings) -> None:
    tls = settings.tls
    if tls is None:
        return
    for path, what in (
        (tls.ca_certificate, "CA certificate"),
        (tls.client_certificate, "client certificate"),
        (tls.client_private_key, "client private key"),
    ):
        _read(path, what)


def build_exporter(
    signal: Signal, settings: ExporterSettings, environ: Mapping[str, str] | None = None
) -> Any:
    """A LogRecordExporter, SpanExporter or MetricExporter for ``signal`` (per the protocol)."""
    env = os.environ if environ is None else environ
    timeout = export_timeout(signal, env)
    _check_files(settings)
    try:
        if settings.protocol is Protocol.GRPC:
            return _grpc(signal, settings, timeout)
        if settings.protocol is Protocol.HTTP_JSON:
            return _json(signal, settings, timeout)
        return _http(signal, settings, timeout)
    except (OSError, ValueError) as err:
        raise ExporterSetupError(f"cannot set up the {signal.value} exporter: {err}") from None


def _http(signal: Signal, settings: ExporterSettings, timeout: float) -> Any:
    # Deferred: each protocol's exporter pulls its own transport (requests / grpc / httpx).
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    tls = settings.tls
    common: dict[str, Any] = {
        "endpoint": signal_endpoint(settings.endpoint, signal),
        "headers": dict(settings.headers),
        "timeout": timeout,
    }
    if tls is not None:
        common.update(
            session=_pinned_ca_session(tls.ca_certificate) if tls.ca_certificate else None,
            certificate_file=str(tls.ca_certificate) if tls.ca_certificate else None,
            client_certificate_file=(
                str(tls.client_certificate) if tls.client_certificate else None
            ),
            client_key_file=str(tls.client_private_key) if tls.client_private_key else None,
        )
    if signal is Signal.LOGS:
        return OTLPLogExporter(**common)
    if signal is Signal.TRACES:
        return OTLPSpanExporter(**common)
    return OTLPMetricExporter(**common, preferred_temporality=DELTA)


def _pinned_ca_session(ca: Path) -> Any:
    """A requests session whose configured CA is not replaced by ``REQUESTS_CA_BUNDLE``.

    requests merges ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` over ``Session.verify`` on every
    request (psf/requests#3829), so on machines that set them (common in companies) the SDK
    exporter would verify the collector against the wrong CA and never export. Proxy variables
    are still honoured. (SDK versions that pass ``verify=`` per request are unaffected.)
    """
    import requests

    class PinnedVerifySession(requests.Session):
        def merge_environment_settings(
            self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
        ) -> Any:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            settings["verify"] = verify if isinstance(verify, str) else self.verify
            return settings

    session = PinnedVerifySession()
    session.verify = str(ca)
    return session


def _grpc(signal: Signal, settings: ExporterSettings, timeout: float) -> Any:
    # Deferred: grpc is a large import, paid only by sessions that export over gRPC.
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    common: dict[str, Any] = {
        "endpoint": settings.endpoint,
        "insecure": not settings.secure,
        # gRPC metadata keys must be lower case.
        "headers": {name.lower(): value for name, value in settings.headers.items()},
        "timeout": timeout,
    }
    if settings.secure:
        tls = settings.tls
        common["credentials"] = grpc.ssl_channel_credentials(
            root_certificates=_read(tls.ca_certificate, "CA certificate") if tls else None,
            private_key=_read(tls.client_private_key, "client private key") if tls else None,
            certificate_chain=_read(tls.client_certificate, "client certificate") if tls else None,
        )
    if signal is Signal.LOGS:
        return OTLPLogExporter(**common)
    if signal is Signal.TRACES:
        return OTLPSpanExporter(**common)
    return OTLPMetricExporter(**common, preferred_temporality=DELTA)


def _json(signal: Signal, settings: ExporterSettings, timeout: float) -> Any:
    from codex_admin.telemetry.otlp_json import (
        JsonHttpClient,
        JsonLogExporter,
        JsonMetricExporter,
        JsonSpanExporter,
    )

    client = JsonHttpClient(
        signal_endpoint(settings.endpoint, signal), settings.headers, settings.tls, timeout
    )
    if signal is Signal.LOGS:
        return JsonLogExporter(client)
    if signal is Signal.TRACES:
        return JsonSpanExporter(client)
    return JsonMetricExporter(client, preferred_temporality=DELTA)
