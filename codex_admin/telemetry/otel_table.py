"""The `[otel]` table of `config.toml` as a strict pydantic model (spec guardian_otel_hooks §2.1).

```toml
[otel]
environment      = "dev"    # resource attribute `env`
log_user_prompt  = false    # prompt text exported as "[REDACTED]" unless true
exporter         = "none"   # logs
trace_exporter   = "none"   # traces
metrics_exporter = "none"   # metrics ("statsig" is accepted and means none: no internal sink)
span_attributes  = { team = "payments" }                 # added to every exported span
tracestate       = { vendor = { key = "value" } }        # W3C tracestate members
```

Each exporter is `"none"`, `{ otlp-http = { endpoint, protocol = "binary"|"json", headers, tls } }`
or `{ otlp-grpc = { endpoint, headers, tls } }`; `tls` has `ca-certificate`, `client-certificate`
and `client-private-key` (paths relative to CODEX_HOME).

Why unknown keys are errors here when the rest of config.toml only warns: Codex rejects them too
(serde `deny_unknown_fields`), and a typo such as `expoter` would otherwise switch an organisation's
audit export off without a word. The closed tables accept extra keys only to reject each one with
its own location (`otel.exporter.otlp-http.protcol`), which pydantic's `extra="forbid"` would turn
into a mere warning in this project's loader.

This module imports pydantic; it is used by the config loader (which already pays for pydantic)
and by :func:`codex_admin.telemetry.parse_otel_settings` only when an `[otel]` table exists.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ExporterTable",
    "OtelConfig",
    "OtlpGrpcConfig",
    "OtlpHttpConfig",
    "TlsConfig",
]


def _reject_unknown(value: Any) -> Any:
    raise ValueError("unknown field (the [otel] table accepts only the documented keys)")


_Unknown = Annotated[Any, BeforeValidator(_reject_unknown)]


class _Closed(BaseModel):
    """Base of the `[otel]` tables: every unknown key is an error located at that key."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        frozen=True,
        strict=True,  # TOML values are typed: "yes" is not a boolean
        json_schema_extra={"additionalProperties": False},
    )
    __pydantic_extra__: dict[str, _Unknown] = Field(init=False)


# RFC 7230 token for header names; values may not carry CR, LF or NUL (header injection).
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_BAD_HEADER_VALUE = re.compile(r"[\r\n\x00]")


class TlsConfig(_Closed):
    """TLS material for an exporter; relative paths resolve against CODEX_HOME."""

    ca_certificate: str | None = Field(default=None, alias="ca-certificate")
    client_certificate: str | None = Field(default=None, alias="client-certificate")
    client_private_key: str | None = Field(default=None, alias="client-private-key")

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if (self.client_certificate is None) != (self.client_private_key is None):
            raise ValueError(
                "client-certificate and client-private-key must be set together (mutual TLS)"
            )
        for value in (self.ca_certificate, self.client_certificate, self.client_private_key):
            if value is not None and not value.strip():
                raise ValueError("TLS file paths may not be empty")
        return self


def _check_endpoint(value: str, tls: TlsConfig | None) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"endpoint must be an http:// or https:// URL with a host (got {value!r})")
    if parts.username is not None or parts.password is not None:
        raise ValueError("endpoint may not carry credentials; put them in `headers`")
    if tls is not None and parts.scheme != "https":
        raise ValueError("`tls` needs an https:// endpoint (traffic to http:// is never encrypted)")


class _Endpoint(_Closed):
    endpoint: str
    headers: dict[str, str] = Field(default_factory=dict)
    tls: TlsConfig | None = None

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"invalid HTTP header name {name!r}")
            if _BAD_HEADER_VALUE.search(value):
                raise ValueError(f"header {name!r} may not contain CR, LF or NUL")
        return headers

    @model_validator(mode="after")
    def _endpoint_ok(self) -> _Endpoint:
        _check_endpoint(self.endpoint, self.tls)
        return self


class OtlpHttpConfig(_Endpoint):
    """`{ otlp-http = {...} }`: OTLP over HTTP, protobuf (`binary`, default) or `json` bodies."""

    protocol: Literal["binary", "json"] = "binary"


class OtlpGrpcConfig(_Endpoint):
    """`{ otlp-grpc = {...} }`: OTLP over gRPC (`https://` endpoints use TLS)."""


def _exporter_value(value: Any) -> Any:
    """``"none"`` becomes the empty table; other strings and non-tables get a clear message."""
    if value == "none":
        return {}
    if isinstance(value, dict):
        return value
    raise ValueError(
        'expected "none" or a table: { otlp-http = { endpoint = "https://..." } } or'
        ' { otlp-grpc = { endpoint = "https://..." } }'
    )


def _metrics_exporter_value(value: Any) -> Any:
    """As :func:`_exporter_value`; Codex's `statsig` (an OpenAI-internal sink) means none here."""
    return {} if value == "statsig" else _exporter_value(value)


class ExporterTable(_Closed):
    """One exporter: at most one of `otlp-http` / `otlp-grpc` (none of them = `"none"`)."""

    otlp_http: OtlpHttpConfig | None = Field(default=None, alias="otlp-http")
    otlp_grpc: OtlpGrpcConfig | None = Field(default=None, alias="otlp-grpc")

    @model_validator(mode="after")
    def _one(self) -> ExporterTable:
        if self.otlp_http is not None and self.otlp_grpc is not None:
            raise ValueError(
                "set either otlp-http or otlp-grpc, not both (when two config layers set"
                " different exporters, keep the exporter in one layer only)"
            )
        return self

    @property
    def configured(self) -> OtlpHttpConfig | OtlpGrpcConfig | None:
        return self.otlp_http or self.otlp_grpc


_ExporterSchema = Literal["none"] | ExporterTable
Exporter = Annotated[
    ExporterTable, BeforeValidator(_exporter_value, json_schema_input_type=_ExporterSchema)
]
MetricsExporter = Annotated[
    ExporterTable,
    BeforeValidator(
        _metrics_exporter_value,
        json_schema_input_type=Literal["none", "statsig"] | ExporterTable,
    ),
]

# W3C trace-context: tracestate keys and values (https://www.w3.org/TR/trace-context/#tracestate).
_TS_KEY = re.compile(
    r"^(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})$"
)
_TS_FIELD = re.compile(r"^[\x21-\x2b\x2d-\x39\x3c\x3e-\x7e]+$")  # printable, no , : ; =


class OtelConfig(_Closed):
    """The whole `[otel]` table. Only user, managed and MDM layers may set it (projects may not)."""

    environment: str = "dev"
    log_user_prompt: bool = False
    exporter: Exporter = Field(default_factory=ExporterTable)
    trace_exporter: Exporter = Field(default_factory=ExporterTable)
    metrics_exporter: MetricsExporter = Field(default_factory=ExporterTable)
    span_attributes: dict[str, str] = Field(default_factory=dict)
    tracestate: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("span_attributes")
    @classmethod
    def _span_attributes(cls, value: dict[str, str]) -> dict[str, str]:
        if any(not key.strip() for key in value):
            raise ValueError("span_attributes keys may not be empty")
        return value

    @field_validator("tracestate")
    @classmethod
    def _tracestate(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for member, fields in value.items():
            if not _TS_KEY.match(member):
                raise ValueError(
                    f"tracestate member {member!r} is not a W3C tracestate key"
                    " (lowercase letters, digits, _ - * /, optional tenant@system)"
                )
            for key, text in fields.items():
                if not _TS_FIELD.match(key) or not _TS_FIELD.match(text):
                    raise ValueError(
                        f"tracestate.{member}.{key}: keys and values must be printable ASCII"
                        " without spaces or , : ; ="
                    )
        return value
