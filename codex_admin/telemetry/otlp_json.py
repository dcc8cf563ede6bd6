"""OTLP/HTTP with JSON bodies (`protocol = "json"`): the encoder and three SDK exporters.

Why hand-written: opentelemetry-python ships OTLP/HTTP exporters for protobuf bodies only (its
`OTEL_EXPORTER_OTLP_PROTOCOL=http/json` is not implemented). The encoding is small because the
SDK's own OTLP encoders already build the protobuf request messages; this module renders them with
protobuf's canonical JSON mapping and applies the OTLP rules that differ from it
(https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):

- field names are lowerCamelCase (the proto3 JSON default), enums are integers;
- ``traceId``, ``spanId`` and ``parentSpanId`` are lowercase hex strings, not base64 (other bytes
  fields, e.g. ``bytesValue``, stay base64);
- 64-bit integers are JSON strings (the proto3 mapping; OTLP receivers accept both).

The HTTP side uses httpx (already a dependency) with the exporter's TLS material, retries 429 /
502 / 503 / 504 and connection errors with exponential back-off inside the export timeout, and
stops retrying as soon as shutdown begins. Failures are returned as FAILURE results (the session
turns them into warnings); nothing here raises into the SDK's worker threads.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from codex_admin.telemetry.settings import TlsSettings

__all__ = [
    "JsonHttpClient",
    "JsonLogExporter",
    "JsonMetricExporter",
    "JsonSpanExporter",
    "encode_otlp_json",
]

_HEX_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})
_RETRYABLE = frozenset({429, 502, 503, 504})


def encode_otlp_json(message: Message) -> bytes:
    """An OTLP export request message as OTLP/JSON bytes."""
    tree = MessageToDict(message, preserving_proto_field_name=False, use_integers_for_enums=True)
    return json.dumps(_hex_ids(tree), separators=(",", ":")).encode()


def _hex_ids(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _HEX_ID_FIELDS and isinstance(value, str):
                out[key] = _b64_to_hex(value)
            else:
                out[key] = _hex_ids(value)
        return out
    if isinstance(node, list):
        return [_hex_ids(item) for item in node]
    return node


def _b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def ssl_context(tls: TlsSettings | None) -> ssl.SSLContext:
    """A verifying client context: the configured CA (else the system store) + client cert."""
    ca = str(tls.ca_certificate) if tls and tls.ca_certificate else None
    context = ssl.create_default_context(cafile=ca)
    if tls and tls.client_certificate and tls.client_private_key:
        context.load_cert_chain(str(tls.client_certificate), str(tls.client_private_key))
    return context


class JsonHttpClient:
    """POSTs OTLP/JSON bodies to one signal endpoint with bounded retries."""

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str],
        tls: TlsSettings | None,
        timeout: float,
    ) -> None:
        self.endpoint = endpoint
        self._timeout = timeout
        self._headers = {**headers, "Content-Type": "application/json"}
        secure = endpoint.startswith("https://")
        verify: ssl.SSLContext | bool = ssl_context(tls) if secure else True
        self._client = httpx.Client(verify=verify, timeout=timeout, follow_redirects=False)
        self._stopping = threading.Event()
        self.last_error: str | None = None

    def post(self, body: bytes) -> bool:
        deadline = time.monotonic() + self._timeout
        delay = 0.5
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self._fail("timed out")
            retry_after: float | None = None
            try:
                response = self._client.post(
                    self.endpoint, content=body, headers=self._headers, timeout=remaining
                )
            except httpx.TimeoutException:
                return self._fail("timed out")
            except (httpx.HTTPError, OSError) as err:
                reason = f"{type(err).__name__}: {err}"
                retryable = isinstance(err, httpx.TransportError | OSError)
            else:
                if 200 <= response.status_code < 300:
                    self.last_error = None
                    return True
                reason = f"HTTP {response.status_code}"
                retryable = response.status_code in _RETRYABLE
                retry_after = _retry_after(response.headers.get("retry-after"))
            wait = retry_after if retry_after is not None else delay
            if not retryable or self._stopping.is_set() or time.monotonic() + wait >= deadline:
                return self._fail(reason)
            if self._stopping.wait(wait):
                return self._fail(reason)
            delay *= 2

    def _fail(self, reason: str) -> bool:
        self.last_error = reason
        return False

    def shutdown(self) -> None:
        self._stopping.set()
        self._client.close()


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < 3600 else None


class JsonLogExporter(LogRecordExporter):
    """OTLP/HTTP JSON log exporter (see the module docstring)."""

    def __init__(self, client: JsonHttpClient) -> None:
        self.client = client

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        ok = self.client.post(encode_otlp_json(encode_logs(batch)))
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        return True

    def shutdown(self) -> None:
        self.client.shutdown()


class JsonSpanExporter(SpanExporter):
    """OTLP/HTTP JSON span exporter (see the module docstring)."""

    def __init__(self, client: JsonHttpClient) -> None:
        self.client = client

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = self.client.post(encode_otlp_json(encode_spans(spans)))
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        self.client.shutdown()


class JsonMetricExporter(MetricExporter):
    """OTLP/HTTP JSON metric exporter (see the module docstring)."""

    def __init__(
        self,
        client: JsonHttpClient,
        preferred_temporality: dict[type, AggregationTemporality] | None = None,
    ) -> None:
        super().__init__(preferred_temporality=preferred_temporality)
        self.client = client

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        ok = self.client.post(encode_otlp_json(encode_metrics(metrics_data)))
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.client.shutdown()
