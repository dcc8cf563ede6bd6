"""TLS and mutual TLS to a real receiver, for every protocol; bad TLS material is a warning."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codex_admin.telemetry import start_telemetry
from tests.support.otlp_receiver import OtlpReceiver, Pki, make_pki
from tests.telemetry.conftest import exporter_for

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def codex_home(tmp_path: Path, pki: Pki) -> Path:
    """A CODEX_HOME holding the client's TLS files, referenced by relative paths."""
    home = tmp_path / "home"
    (home / "otel").mkdir(parents=True)
    for source, name in (
        (pki.ca, "ca.pem"),
        (pki.client_cert, "client.pem"),
        (pki.client_key, "client-key.pem"),
        (pki.other_ca, "other-ca.pem"),
    ):
        (home / "otel" / name).write_bytes(source.read_bytes())
    return home


@pytest.fixture
def mtls_rx(pki: Pki) -> Iterator[OtlpReceiver]:
    with OtlpReceiver(tls=pki.server(mutual=True)) as receiver:
        yield receiver


def tls_table(rx: OtlpReceiver, protocol: str, **tls: str) -> dict[str, Any]:
    return {
        key: exporter_for(rx, protocol, signal, tls=tls)
        for key, signal in (
            ("exporter", "logs"),
            ("trace_exporter", "traces"),
            ("metrics_exporter", "metrics"),
        )
    }


MUTUAL = {
    "ca-certificate": "otel/ca.pem",
    "client-certificate": "otel/client.pem",
    "client-private-key": "otel/client-key.pem",
}


def emit(telemetry: Any) -> None:
    with telemetry.turn("t"):
        telemetry.tool_result(
            tool_name="shell", call_id="c", arguments="", output="", duration_ms=1, success=True
        )


def test_mutual_tls_exports_all_signals(
    mtls_rx: OtlpReceiver, protocol: str, codex_home: Path
) -> None:
    assert mtls_rx.grpc_url.startswith("https://")
    telemetry = start_telemetry(
        tls_table(mtls_rx, protocol, **MUTUAL), codex_home=codex_home, environ={}
    )
    assert telemetry.signals == {"logs", "traces", "metrics"}, telemetry.warnings
    emit(telemetry)
    report = telemetry.shutdown(timeout=5)
    assert report.flushed, report.warnings
    assert mtls_rx.logs and mtls_rx.spans and mtls_rx.points


def test_without_the_client_certificate_nothing_is_accepted(
    mtls_rx: OtlpReceiver, protocol: str, codex_home: Path
) -> None:
    telemetry = start_telemetry(
        tls_table(mtls_rx, protocol, **{"ca-certificate": "otel/ca.pem"}),
        codex_home=codex_home,
        environ={"OTEL_EXPORTER_OTLP_TIMEOUT": "2"},
    )
    emit(telemetry)
    report = telemetry.shutdown(timeout=3)
    assert mtls_rx.requests == []
    assert any("failed" in w or "did not finish" in w for w in report.warnings), report.warnings


def test_a_server_signed_by_another_ca_is_refused(
    pki: Pki, protocol: str, codex_home: Path
) -> None:
    with OtlpReceiver(tls=pki.server()) as rx:
        telemetry = start_telemetry(
            tls_table(rx, protocol, **{"ca-certificate": "otel/other-ca.pem"}),
            codex_home=codex_home,
            environ={"OTEL_EXPORTER_OTLP_TIMEOUT": "2"},
        )
        emit(telemetry)
        report = telemetry.shutdown(timeout=3)
        assert rx.requests == []
        assert report.warnings


def test_a_missing_tls_file_disables_only_that_signal(
    mtls_rx: OtlpReceiver, protocol: str, codex_home: Path
) -> None:
    table = tls_table(mtls_rx, protocol, **MUTUAL)
    table["trace_exporter"] = exporter_for(
        mtls_rx, protocol, "traces", tls={**MUTUAL, "client-private-key": "otel/missing.pem"}
    )
    telemetry = start_telemetry(table, codex_home=codex_home, environ={})
    assert telemetry.signals == {"logs", "metrics"}
    [warning] = telemetry.warnings
    assert "traces not exported" in warning and "missing.pem" in warning
    emit(telemetry)
    assert telemetry.shutdown(timeout=5).flushed
    assert mtls_rx.logs and mtls_rx.points and mtls_rx.spans == []


def test_the_configured_ca_wins_over_requests_ca_bundle(
    mtls_rx: OtlpReceiver, codex_home: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests would verify against REQUESTS_CA_BUNDLE instead of the configured CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.other_ca))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(pki.other_ca))
    telemetry = start_telemetry(
        tls_table(mtls_rx, "binary", **MUTUAL), codex_home=codex_home, environ={}
    )
    emit(telemetry)
    report = telemetry.shutdown(timeout=5)
    assert report.flushed, report.warnings
    assert mtls_rx.logs and mtls_rx.spans and mtls_rx.points
