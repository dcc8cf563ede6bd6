"""A real OTLP receiver on 127.0.0.1 for tests: HTTP (protobuf and JSON) and gRPC.

It decodes what it gets with the opentelemetry-proto messages, exactly as a Collector would, and
keeps both the decoded records and the raw bodies (to prove a secret never left the process).

Quick start::

    from tests.support.otlp_receiver import OtlpReceiver

    with OtlpReceiver() as rx:
        otel = {"exporter": {"otlp-http": {"endpoint": rx.http_url("logs")}},
                "trace_exporter": {"otlp-grpc": {"endpoint": rx.grpc_url}},
                "metrics_exporter": {"otlp-http": {"endpoint": rx.http_url("metrics"),
                                                   "protocol": "json"}}}
        ... run the code under test (in-process or a subprocess) ...
        log = rx.wait_for_log("codex.tool_result")
        assert log.attributes["tool_name"] == "shell"
        assert log.resource["service.name"] == "codex_exec"
        span = rx.wait_for_span("codex.turn")
        rx.wait_for_metric("codex.turn.token_usage")
        assert rx.metric_total("codex.turn.token_usage", token_type="input") == 3
        assert not rx.saw(b"sk-marker")          # searched in every raw body received

Endpoints: ``rx.http_base`` (``http://127.0.0.1:PORT``), ``rx.http_url(signal)`` (``.../v1/logs``,
``/v1/traces``, ``/v1/metrics``), ``rx.grpc_url`` (``http://127.0.0.1:PORT``); with ``tls=`` the
schemes are ``https`` and the servers require TLS (and a client certificate when the
:class:`ServerTls` has ``client_ca``). :func:`make_pki` writes a CA, a server certificate for
127.0.0.1/localhost and a client certificate.

HTTP accepts ``Content-Type: application/x-protobuf`` or ``application/json`` (OTLP/JSON is
checked strictly: lowerCamelCase keys only, hex ``traceId``/``spanId``/``parentSpanId``, unknown
fields rejected with 400) and ``Content-Encoding: gzip``; it answers with the matching encoding.
gRPC implements the three collector services (``LogsService``, ``TraceService``,
``MetricsService``).

Modes (``OtlpReceiver(mode=...)`` or ``rx.mode = ...`` at any time):

- ``"ok"``: decode, record, answer success;
- ``"stall"``: accept the request and never answer (until the receiver stops);
- ``"reject"``: answer HTTP 400 / gRPC ``INVALID_ARGUMENT`` (a non-retryable failure);
- ``"down"`` (constructor only): reserve the ports but listen on nothing (connection refused).

Queries (all thread-safe; ``wait_*`` poll until ``timeout`` seconds and raise ``AssertionError``
with what was received so far): ``rx.logs`` / ``rx.spans`` / ``rx.points`` (lists of
:class:`ReceivedLog`, :class:`ReceivedSpan`, :class:`ReceivedPoint`), ``rx.requests``
(:class:`ReceivedRequest` with transport, signal, content type, headers, raw body),
``rx.logs_named(name)``, ``rx.spans_named(name)``, ``rx.points_named(name, **attrs)``,
``rx.metric_total(name, **attrs)``, ``rx.metric_names()``, ``rx.saw(bytes_or_str)``,
``rx.wait_for_log(name)``, ``rx.wait_for_span(name)``, ``rx.wait_for_metric(name)``,
``rx.wait_for(predicate)``, ``rx.stalled`` (requests currently held by ``"stall"``) and
``rx.clear()``.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.json_format import ParseDict, ParseError
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = [
    "OtlpReceiver",
    "ReceivedLog",
    "ReceivedPoint",
    "ReceivedRequest",
    "ReceivedSpan",
    "ServerTls",
    "make_pki",
]

SIGNALS = ("logs", "traces", "metrics")
_REQUEST_TYPES: dict[str, type[Message]] = {
    "logs": logs_service_pb2.ExportLogsServiceRequest,
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
}
_RESPONSE_TYPES: dict[str, type[Message]] = {
    "logs": logs_service_pb2.ExportLogsServiceResponse,
    "traces": trace_service_pb2.ExportTraceServiceResponse,
    "metrics": metrics_service_pb2.ExportMetricsServiceResponse,
}
_HEX_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})


# -- decoded records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedRequest:
    transport: str  # "http/protobuf" | "http/json" | "grpc"
    signal: str
    content_type: str
    headers: dict[str, str]
    body: bytes  # raw (decompressed) body; for gRPC the re-serialised request


@dataclass(frozen=True)
class ReceivedLog:
    event_name: str
    body: Any
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str
    severity_text: str
    trace_id: str
    span_id: str
    transport: str


@dataclass(frozen=True)
class ReceivedSpanEvent:
    name: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    trace_state: str
    attributes: dict[str, Any]
    events: list[ReceivedSpanEvent]
    resource: dict[str, Any]
    scope: str
    start_ns: int
    end_ns: int
    transport: str

    def event(self, name: str) -> ReceivedSpanEvent:
        for event in self.events:
            if event.name == name:
                return event
        raise AssertionError(f"span {self.name} has no event {name}: {self.events}")


@dataclass(frozen=True)
class ReceivedPoint:
    metric: str
    kind: str  # "sum" | "histogram" | "gauge"
    unit: str
    temporality: int  # 1 = delta, 2 = cumulative (0 for gauges)
    attributes: dict[str, Any]
    value: float  # sum / gauge value; histogram: sum of observations
    count: int  # histogram: number of observations; else 1
    resource: dict[str, Any]
    transport: str


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    return getattr(value, kind)


def attributes_of(pairs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in pairs if isinstance(kv, KeyValue)}


# -- TLS ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerTls:
    cert: Path
    key: Path
    client_ca: Path | None = None  # set: clients must present a certificate signed by it


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here (for "wrong CA" tests)

    def server(self, *, mutual: bool = False) -> ServerTls:
        return ServerTls(self.server_cert, self.server_key, self.ca if mutual else None)


def make_pki(directory: Path) -> Pki:
    """A throw-away CA with a server (127.0.0.1, localhost) and a client certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
        return path

    def write_cert(cert: x509.Certificate, path: Path) -> Path:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    def make_ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return key, cert

    ca_key, ca_cert = make_ca("codex-admin test CA")
    _, other_cert = make_ca("unrelated CA")

    def leaf(cn: str, usage: Any, sans: list[x509.GeneralName]) -> tuple[Any, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    import ipaddress

    server_key, server_cert = leaf(
        "127.0.0.1",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    client_key, client_cert = leaf("codex client", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    return Pki(
        ca=write_cert(ca_cert, directory / "ca.pem"),
        server_cert=write_cert(server_cert, directory / "server.pem"),
        server_key=write_key(server_key, directory / "server-key.pem"),
        client_cert=write_cert(client_cert, directory / "client.pem"),
        client_key=write_key(client_key, directory / "client-key.pem"),
        other_ca=write_cert(other_cert, directory / "other-ca.pem"),
    )


# -- the receiver ------------------------------------------------------------------------------


class OtlpReceiver:
    """See the module docstring."""

    def __init__(self, *, mode: str = "ok", tls: ServerTls | None = None) -> None:
        if mode not in ("ok", "stall", "reject", "down"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.tls = tls
        self.requests: list[ReceivedRequest] = []
        self.logs: list[ReceivedLog] = []
        self.spans: list[ReceivedSpan] = []
        self.points: list[ReceivedPoint] = []
        self.errors: list[str] = []  # malformed requests (answered 400)
        self.stalled = 0
        self._lock = threading.Condition()
        self._release = threading.Event()
        self._http: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._grpc: grpc.Server | None = None
        self.http_port = 0
        self.grpc_port = 0

    # lifecycle

    def __enter__(self) -> OtlpReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.mode == "down":
            self.http_port, self.grpc_port = _free_port(), _free_port()
            return
        self._start_http()
        self._start_grpc()

    def stop(self) -> None:
        self._release.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._grpc is not None:
            self._grpc.stop(grace=0).wait(5)
            self._grpc = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def http_base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.http_port}"

    def http_url(self, signal: str) -> str:
        assert signal in SIGNALS, signal
        return f"{self.http_base}/v1/{signal}"

    @property
    def grpc_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.grpc_port}"

    # HTTP

    def _start_http(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                receiver._handle_http(self)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.tls.cert), str(self.tls.key))
            if self.tls.client_ca is not None:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(str(self.tls.client_ca))
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._http = server
        self.http_port = server.server_address[1]
        self._http_thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._http_thread.start()

    def _handle_http(self, handler: BaseHTTPRequestHandler) -> None:
        signal = handler.path.rstrip("/").rsplit("/", 1)[-1]
        if handler.path not in (f"/v1/{s}" for s in SIGNALS):
            return _reply(handler, 404, "text/plain", b"unknown path")
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        if (handler.headers.get("Content-Encoding") or "").lower() == "gzip":
            body = gzip.decompress(body)
        content_type = (handler.headers.get("Content-Type") or "").split(";")[0].strip()
        headers = {k.lower(): v for k, v in handler.headers.items()}
        is_json = content_type == "application/json"
        if not is_json and content_type != "application/x-protobuf":
            return _reply(handler, 415, "text/plain", b"unsupported content type")
        if self._hold():
            return None
        if self.mode == "reject":
            return _reply(handler, 400, "text/plain", b"rejected by test receiver")
        try:
            message = _parse_json(body, signal) if is_json else _parse_protobuf(body, signal)
        except (ValueError, DecodeError) as err:
            with self._lock:
                self.errors.append(f"{signal}: {err}")
                self._lock.notify_all()
            return _reply(handler, 400, "text/plain", str(err).encode())
        transport = "http/json" if is_json else "http/protobuf"
        self._record(ReceivedRequest(transport, signal, content_type, headers, body), message)
        response = _RESPONSE_TYPES[signal]()
        if is_json:
            return _reply(handler, 200, "application/json", b"{}")
        return _reply(handler, 200, "application/x-protobuf", response.SerializeToString())

    def _hold(self) -> bool:
        """In ``stall`` mode: keep the request open until the receiver stops."""
        if self.mode != "stall":
            return False
        with self._lock:
            self.stalled += 1
            self._lock.notify_all()
        self._release.wait()
        return True

    # gRPC

    def _start_grpc(self) -> None:
        server = grpc.server(ThreadPoolExecutor(max_workers=8, thread_name_prefix="otlp-rx"))
        receiver = self

        def servicer(signal: str, base: type) -> Any:
            class Servicer(base):  # type: ignore[misc, valid-type]
                def Export(self, request: Message, context: grpc.ServicerContext) -> Message:
                    return receiver._handle_grpc(signal, request, context)

            return Servicer()

        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(
            servicer("logs", logs_service_pb2_grpc.LogsServiceServicer), server
        )
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
            servicer("traces", trace_service_pb2_grpc.TraceServiceServicer), server
        )
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
            servicer("metrics", metrics_service_pb2_grpc.MetricsServiceServicer), server
        )
        if self.tls is not None:
            credentials = grpc.ssl_server_credentials(
                [(self.tls.key.read_bytes(), self.tls.cert.read_bytes())],
                root_certificates=(self.tls.client_ca.read_bytes() if self.tls.client_ca else None),
                require_client_auth=self.tls.client_ca is not None,
            )
            self.grpc_port = server.add_secure_port("127.0.0.1:0", credentials)
        else:
            self.grpc_port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._grpc = server

    def _handle_grpc(self, signal: str, request: Message, context: grpc.ServicerContext) -> Message:
        if self.mode == "stall":
            with self._lock:
                self.stalled += 1
                self._lock.notify_all()
            while not self._release.wait(0.05):
                if not context.is_active():
                    break
            context.abort(grpc.StatusCode.UNAVAILABLE, "receiver stopped")
        if self.mode == "reject":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "rejected by test receiver")
        headers = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        body = request.SerializeToString()
        self._record(ReceivedRequest("grpc", signal, "application/grpc", headers, body), request)
        return _RESPONSE_TYPES[signal]()

    # recording

    def _record(self, request: ReceivedRequest, message: Message) -> None:
        transport = request.transport
        logs: list[ReceivedLog] = []
        spans: list[ReceivedSpan] = []
        points: list[ReceivedPoint] = []
        if request.signal == "logs":
            for rl in message.resource_logs:  # type: ignore[attr-defined]
                resource = attributes_of(rl.resource.attributes)
                for sl in rl.scope_logs:
                    for record in sl.log_records:
                        attrs = attributes_of(record.attributes)
                        logs.append(
                            ReceivedLog(
                                event_name=record.event_name or str(attrs.get("event.name", "")),
                                body=any_value(record.body),
                                attributes=attrs,
                                resource=resource,
                                scope=sl.scope.name,
                                severity_text=record.severity_text,
                                trace_id=record.trace_id.hex(),
                                span_id=record.span_id.hex(),
                                transport=transport,
                            )
                        )
        elif request.signal == "traces":
            for rs in message.resource_spans:  # type: ignore[attr-defined]
                resource = attributes_of(rs.resource.attributes)
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        spans.append(
                            ReceivedSpan(
                                name=span.name,
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_span_id=span.parent_span_id.hex(),
                                trace_state=span.trace_state,
                                attributes=attributes_of(span.attributes),
                                events=[
                                    ReceivedSpanEvent(e.name, attributes_of(e.attributes))
                                    for e in span.events
                                ],
                                resource=resource,
                                scope=ss.scope.name,
                                start_ns=span.start_time_unix_nano,
                                end_ns=span.end_time_unix_nano,
                                transport=transport,
                            )
                        )
        else:
            for rm in message.resource_metrics:  # type: ignore[attr-defined]
                resource = attributes_of(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        points.extend(_points(metric, resource, transport))
        with self._lock:
            self.requests.append(request)
            self.logs.extend(logs)
            self.spans.extend(spans)
            self.points.extend(points)
            self._lock.notify_all()

    # queries

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.logs.clear()
            self.spans.clear()
            self.points.clear()
            self.errors.clear()

    def logs_named(self, name: str) -> list[ReceivedLog]:
        with self._lock:
            return [log for log in self.logs if log.event_name == name]

    def spans_named(self, name: str) -> list[ReceivedSpan]:
        with self._lock:
            return [span for span in self.spans if span.name == name]

    def span_events(self, name: str) -> list[ReceivedSpanEvent]:
        with self._lock:
            return [e for span in self.spans for e in span.events if e.name == name]

    def points_named(self, name: str, **attrs: Any) -> list[ReceivedPoint]:
        with self._lock:
            return [
                p
                for p in self.points
                if p.metric == name and all(p.attributes.get(k) == v for k, v in attrs.items())
            ]

    def metric_total(self, name: str, **attrs: Any) -> float:
        """Sum over matching points (delta temporality: the total of the run)."""
        return sum(p.value for p in self.points_named(name, **attrs))

    def metric_names(self) -> set[str]:
        with self._lock:
            return {p.metric for p in self.points}

    def saw(self, needle: bytes | str) -> bool:
        """True if ``needle`` occurs in any raw body received (any signal, any transport)."""
        raw = needle.encode() if isinstance(needle, str) else needle
        with self._lock:
            return any(raw in request.body for request in self.requests)

    def wait_for(self, predicate: Callable[[OtlpReceiver], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                if predicate(self):
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting; received so far: {self.summary()}")
                self._lock.wait(min(remaining, 0.1))

    def wait_for_log(self, name: str, timeout: float = 10.0) -> ReceivedLog:
        self.wait_for(lambda rx: any(log.event_name == name for log in rx.logs), timeout)
        return self.logs_named(name)[0]

    def wait_for_span(self, name: str, timeout: float = 10.0) -> ReceivedSpan:
        self.wait_for(lambda rx: any(span.name == name for span in rx.spans), timeout)
        return self.spans_named(name)[0]

    def wait_for_metric(self, name: str, timeout: float = 10.0, **attrs: Any) -> ReceivedPoint:
        def found(rx: OtlpReceiver) -> bool:
            return any(
                p.metric == name and all(p.attributes.get(k) == v for k, v in attrs.items())
                for p in rx.points
            )

        self.wait_for(found, timeout)
        return self.points_named(name, **attrs)[0]

    def summary(self) -> str:
        logs = sorted({log.event_name for log in self.logs})
        spans = sorted({span.name for span in self.spans})
        metrics = sorted({p.metric for p in self.points})
        return (
            f"{len(self.requests)} requests; logs={logs}; spans={spans}; metrics={metrics};"
            f" errors={self.errors}; stalled={self.stalled}"
        )

    def iter_strings(self) -> Iterator[str]:
        """Every decoded string attribute value, body and resource value (for redaction tests)."""
        with self._lock:
            logs, spans, points = list(self.logs), list(self.spans), list(self.points)
        for log in logs:
            yield from _strings(log.attributes)
            yield from _strings(log.resource)
            yield from _strings(log.body)
        for span in spans:
            yield span.name
            yield from _strings(span.attributes)
            yield from _strings(span.resource)
            for event in span.events:
                yield from _strings(event.attributes)
        for point in points:
            yield from _strings(point.attributes)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _points(metric: Any, resource: dict[str, Any], transport: str) -> Iterator[ReceivedPoint]:
    kind = metric.WhichOneof("data")
    if kind == "sum":
        for dp in metric.sum.data_points:
            value = dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double
            yield ReceivedPoint(
                metric.name,
                "sum",
                metric.unit,
                metric.sum.aggregation_temporality,
                attributes_of(dp.attributes),
                float(value),
                1,
                resource,
                transport,
            )
    elif kind == "histogram":
        for dp in metric.histogram.data_points:
            yield ReceivedPoint(
                metric.name,
                "histogram",
                metric.unit,
                metric.histogram.aggregation_temporality,
                attributes_of(dp.attributes),
                dp.sum,
                dp.count,
                resource,
                transport,
            )
    elif kind == "gauge":
        for dp in metric.gauge.data_points:
            value = dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double
            yield ReceivedPoint(
                metric.name,
                "gauge",
                metric.unit,
                0,
                attributes_of(dp.attributes),
                float(value),
                1,
                resource,
                transport,
            )


def _parse_protobuf(body: bytes, signal: str) -> Message:
    message = _REQUEST_TYPES[signal]()
    message.ParseFromString(body)
    return message


def _parse_json(body: bytes, signal: str) -> Message:
    """OTLP/JSON, strictly: camelCase keys, hex ids, no unknown fields."""
    try:
        tree = json.loads(body)
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON: {err}") from None
    _check_json(tree, "$")
    message = _REQUEST_TYPES[signal]()
    try:
        ParseDict(_base64_ids(tree), message, ignore_unknown_fields=False)
    except (ParseError, ValueError, TypeError) as err:
        raise ValueError(f"not an OTLP {signal} request: {err}") from None
    return message


def _check_json(node: Any, path: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if "_" in key:
                raise ValueError(f"{path}.{key}: OTLP/JSON keys are lowerCamelCase")
            if key in _HEX_FIELDS:
                if not isinstance(value, str) or (
                    value and not all(c in "0123456789abcdef" for c in value)
                ):
                    raise ValueError(f"{path}.{key}: ids must be lowercase hex, got {value!r}")
                expected = 32 if key == "traceId" else 16
                if value and len(value) != expected:
                    raise ValueError(f"{path}.{key}: expected {expected} hex digits")
            _check_json(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _check_json(item, f"{path}[{index}]")


def _base64_ids(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                base64.b64encode(bytes.fromhex(value)).decode()
                if key in _HEX_FIELDS and isinstance(value, str)
                else _base64_ids(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_base64_ids(item) for item in node]
    return node


def _reply(handler: BaseHTTPRequestHandler, status: int, content_type: str, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
