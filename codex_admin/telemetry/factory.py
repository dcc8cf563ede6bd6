"""Build a session's :class:`Telemetry` from the merged `[otel]` table.

The flush bound (how long shutdown may wait for the receiver) is 2 s by default; the caller may
pass ``flush_timeout`` or set ``CODEX_OTEL_FLUSH_TIMEOUT_MS`` (a deployment knob, not a config
key, because Codex rejects unknown `[otel]` keys and shared config files must stay loadable by
both). The OpenTelemetry SDK is imported here only when an exporter is configured.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from codex_admin.telemetry.model import SessionMeta
from codex_admin.telemetry.redaction import Redactor
from codex_admin.telemetry.session import Telemetry
from codex_admin.telemetry.settings import OtelSettings, parse_otel_settings

__all__ = [
    "DEFAULT_FLUSH_TIMEOUT",
    "DEFAULT_ORIGINATOR",
    "FLUSH_TIMEOUT_ENV",
    "flush_timeout_from_env",
    "start_telemetry",
]

DEFAULT_FLUSH_TIMEOUT = 2.0
DEFAULT_ORIGINATOR = "codex_cli_rs"
FLUSH_TIMEOUT_ENV = "CODEX_OTEL_FLUSH_TIMEOUT_MS"


def flush_timeout_from_env(environ: Mapping[str, str]) -> tuple[float, str | None]:
    """The flush bound in seconds from ``CODEX_OTEL_FLUSH_TIMEOUT_MS``, and a warning if bad."""
    raw = environ.get(FLUSH_TIMEOUT_ENV)
    if not raw:
        return DEFAULT_FLUSH_TIMEOUT, None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= 60_000:
        return DEFAULT_FLUSH_TIMEOUT, (
            f"{FLUSH_TIMEOUT_ENV}={raw!r} is not a number of milliseconds in 0..60000;"
            f" using {DEFAULT_FLUSH_TIMEOUT:g}s"
        )
    return value / 1000.0, None


def start_telemetry(
    otel: Mapping[str, Any] | OtelSettings | None,
    *,
    codex_home: Path,
    originator: str = DEFAULT_ORIGINATOR,
    version: str = "",
    meta: SessionMeta | None = None,
    secrets: Iterable[str] = (),
    flush_timeout: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> Telemetry:
    """The session's telemetry: disabled when no exporter is configured, else live.

    ``otel`` is the merged `[otel]` table (``ConfigResult.config.get("otel")``) or already
    parsed settings. ``originator`` becomes ``service.name`` (``codex_exec`` for `codex exec`);
    ``secrets`` are literal values never to export (the API key in use). Raises
    :class:`~codex_admin.errors.CodexError` only for an invalid table; exporters that cannot be
    built (missing TLS files) are warnings on the returned object, and that signal is off.
    """
    env = os.environ if environ is None else environ
    settings = otel if isinstance(otel, OtelSettings) else parse_otel_settings(otel, codex_home)
    warnings = list(settings.notes)
    redactor = Redactor(secrets)
    if not settings.enabled:
        return Telemetry(
            None,
            settings=settings,
            originator=originator,
            version=version,
            meta=meta,
            redactor=redactor,
            warnings=warnings,
        )
    bound, problem = flush_timeout_from_env(env)
    if problem:
        warnings.append(problem)
    # Deferred: the OpenTelemetry SDK (~300 ms) is loaded only when something is exported.
    from codex_admin.telemetry.otel_sdk import OtelSdkSink

    sink = OtelSdkSink(
        settings,
        originator=originator,
        version=version,
        redact=redactor,
        flush_timeout=bound if flush_timeout is None else flush_timeout,
        environ=env,
    )
    return Telemetry(
        sink if sink.active else None,
        settings=settings,
        originator=originator,
        version=version,
        meta=meta,
        redactor=redactor,
        warnings=[*warnings, *sink.take_warnings()],
    )
