"""Resolved `[otel]` settings: what the exporters need, with TLS paths made absolute.

:func:`parse_otel_settings` takes the merged `[otel]` table (the config loader has already
validated each layer with located errors) and returns frozen dataclasses. A merged table can still
be wrong where two layers combine (say the user sets `otlp-http` and the managed layer `otlp-grpc`
for the same exporter): that is a :class:`~codex_admin.errors.CodexError` naming the key.
pydantic is imported only when there is a table to parse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_admin.errors import CodexError

if TYPE_CHECKING:
    from codex_admin.telemetry.otel_table import ExporterTable

__all__ = [
    "DEFAULT_ENVIRONMENT",
    "ExporterSettings",
    "OtelSettings",
    "Protocol",
    "Signal",
    "TlsSettings",
    "parse_otel_settings",
]

DEFAULT_ENVIRONMENT = "dev"


class Signal(StrEnum):
    LOGS = "logs"
    TRACES = "traces"
    METRICS = "metrics"


class Protocol(StrEnum):
    """How an exporter talks OTLP."""

    HTTP_PROTOBUF = "http/protobuf"  # otlp-http, protocol = "binary"
    HTTP_JSON = "http/json"  # otlp-http, protocol = "json"
    GRPC = "grpc"  # otlp-grpc


@dataclass(frozen=True)
class TlsSettings:
    ca_certificate: Path | None = None
    client_certificate: Path | None = None
    client_private_key: Path | None = None


@dataclass(frozen=True)
class ExporterSettings:
    """One configured OTLP exporter. ``headers`` may hold collector credentials: never logged."""

    protocol: Protocol
    endpoint: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    tls: TlsSettings | None = None

    @property
    def secure(self) -> bool:
        return self.endpoint.startswith("https://")


@dataclass(frozen=True)
class OtelSettings:
    """The `[otel]` table resolved; ``None`` exporters are off (the default for all three)."""

    environment: str = DEFAULT_ENVIRONMENT
    log_user_prompt: bool = False
    logs: ExporterSettings | None = None
    traces: ExporterSettings | None = None
    metrics: ExporterSettings | None = None
    span_attributes: Mapping[str, str] = field(default_factory=dict)
    tracestate: Mapping[str, str] = field(default_factory=dict)  # member -> encoded value
    notes: tuple[str, ...] = ()  # non-fatal remarks about the table (e.g. `statsig` ignored)

    @property
    def enabled(self) -> bool:
        return any(e is not None for e in (self.logs, self.traces, self.metrics))

    def exporter(self, signal: Signal) -> ExporterSettings | None:
        return {Signal.LOGS: self.logs, Signal.TRACES: self.traces, Signal.METRICS: self.metrics}[
            signal
        ]


def parse_otel_settings(table: Mapping[str, Any] | None, codex_home: Path) -> OtelSettings:
    """Validate the merged `[otel]` table and resolve it. ``None`` or ``{}`` means all off."""
    if not table:
        return OtelSettings()
    # Deferred: pydantic is only needed when an [otel] table exists (keeps `import` cheap).
    from pydantic import ValidationError

    from codex_admin.telemetry.otel_table import OtelConfig

    try:
        model = OtelConfig.model_validate(dict(table))
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in ("otel", *first["loc"]) if not _is_union_part(p))
        raise CodexError(
            f"invalid [otel] configuration: `{key}`: "
            f"{str(first['msg']).removeprefix('Value error, ')}",
            hint="run `codex config validate` on each config file that sets [otel]",
        ) from None
    notes: list[str] = []
    if table.get("metrics_exporter") == "statsig":
        notes.append(
            'otel.metrics_exporter = "statsig" names an OpenAI-internal sink; no metrics are'
            " exported (set an otlp-http or otlp-grpc exporter to export them)"
        )
    return OtelSettings(
        environment=model.environment,
        log_user_prompt=model.log_user_prompt,
        logs=_exporter(model.exporter, codex_home),
        traces=_exporter(model.trace_exporter, codex_home),
        metrics=_exporter(model.metrics_exporter, codex_home),
        span_attributes=dict(model.span_attributes),
        tracestate=_tracestate(model.tracestate),
        notes=tuple(notes),
    )


def _is_union_part(part: object) -> bool:
    return isinstance(part, str) and (part.startswith("function-") or part.endswith("]"))


def _exporter(table: ExporterTable, codex_home: Path) -> ExporterSettings | None:
    if table.otlp_http is not None:
        http = table.otlp_http
        protocol = Protocol.HTTP_JSON if http.protocol == "json" else Protocol.HTTP_PROTOBUF
        return ExporterSettings(protocol, http.endpoint, dict(http.headers), _tls(http, codex_home))
    if table.otlp_grpc is not None:
        grpc = table.otlp_grpc
        return ExporterSettings(
            Protocol.GRPC, grpc.endpoint, dict(grpc.headers), _tls(grpc, codex_home)
        )
    return None


def _tls(endpoint: Any, codex_home: Path) -> TlsSettings | None:
    tls = endpoint.tls
    if tls is None:
        return None

    def resolve(value: str | None) -> Path | None:
        if value is None:
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() else codex_home / path

    return TlsSettings(
        ca_certificate=resolve(tls.ca_certificate),
        client_certificate=resolve(tls.client_certificate),
        client_private_key=resolve(tls.client_private_key),
    )


def _tracestate(members: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Each member's table encoded as ``key:value;key:value`` (W3C: at most 256 chars)."""
    encoded: dict[str, str] = {}
    for member, fields in members.items():
        value = ";".join(f"{k}:{v}" for k, v in fields.items())
        if not value or len(value) > 256:
            raise CodexError(
                f"otel.tracestate.{member}: the encoded member value must be 1-256 characters",
                hint="keep fewer or shorter keys in this tracestate member",
            )
        encoded[member] = value
    return encoded
