"""Fixtures: a real OTLP receiver per test and sessions exporting to it over each protocol."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from codex_admin.telemetry import SessionMeta, Telemetry, start_telemetry
from tests.support.otlp_receiver import OtlpReceiver

PROTOCOLS = ("binary", "json", "grpc")


def exporter_for(rx: OtlpReceiver, protocol: str, signal: str, **extra: Any) -> dict[str, Any]:
    """The `[otel]` exporter value that sends ``signal`` to ``rx`` over ``protocol``."""
    if protocol == "grpc":
        return {"otlp-grpc": {"endpoint": rx.grpc_url, **extra}}
    return {"otlp-http": {"endpoint": rx.http_url(signal), "protocol": protocol, **extra}}


def otel_table(rx: OtlpReceiver, protocol: str, **extra: Any) -> dict[str, Any]:
    """An `[otel]` table exporting all three signals to ``rx``."""
    return {
        "exporter": exporter_for(rx, protocol, "logs"),
        "trace_exporter": exporter_for(rx, protocol, "traces"),
        "metrics_exporter": exporter_for(rx, protocol, "metrics"),
        **extra,
    }


@pytest.fixture(autouse=True, scope="module")
def _exporter_threads_end_with_their_file() -> Iterator[None]:
    """Wait (bounded) for the SDK threads a file's sessions left exporting to a stalled
    receiver: a shutdown that ran out of time leaves them to finish their request in flight.
    Still running, they would draw from the global ``random`` (retry jitter) inside the next
    file's tests, which Hypothesis reports as a strategy using ``random``."""
    yield
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(
        t.name.startswith(("Otel", "codex-otel")) for t in threading.enumerate()
    ):
        time.sleep(0.05)


@pytest.fixture
def rx() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


MakeTelemetry = Callable[..., Telemetry]


@pytest.fixture
def make_telemetry(rx: OtlpReceiver, protocol: str, tmp_path: Path) -> Iterator[MakeTelemetry]:
    """``make_telemetry(**otel_extra, meta=..., secrets=...)``: a live session exporting to rx."""
    made: list[Telemetry] = []

    def make(
        *,
        meta: SessionMeta | None = None,
        secrets: tuple[str, ...] = (),
        originator: str = "codex_exec",
        environ: dict[str, str] | None = None,
        **extra: Any,
    ) -> Telemetry:
        telemetry = start_telemetry(
            otel_table(rx, protocol, **extra),
            codex_home=tmp_path,
            originator=originator,
            version="9.9.9",
            meta=meta
            or SessionMeta(
                conversation_id="conv-1",
                auth_mode="apikey",
                model="gpt-test",
                slug="gpt-test",
                terminal_type="xterm",
                session_source="exec",
                user_account_id="acct-42",
                user_email="dev@example.com",
            ),
            secrets=secrets,
            environ=environ if environ is not None else {},
        )
        made.append(telemetry)
        assert telemetry.signals == {"logs", "traces", "metrics"}, telemetry.warnings
        return telemetry

    yield make
    for telemetry in made:
        telemetry.shutdown(timeout=2.0)
