"""Custom CA (several PEMs, TRUSTED CERTIFICATE, CRL sections) and the system-proxy switch."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from codex_admin.providers import ProviderConfigError, TransportError
from codex_admin.providers.http import load_custom_ca, ssl_context_for
from tests.providers.helpers import KEY, stream
from tests.support import MockResponsesServer, TestCA, ThreadedHttpServer, assistant_turn

CRL = b"-----BEGIN X509 CRL-----\nMIIBAAAA\n-----END X509 CRL-----\n"


def test_custom_ca_bundle_with_trusted_certificate_and_crl(tmp_path: Path) -> None:
    ca, other = TestCA("gateway CA"), TestCA("unrelated CA")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(other.pem() + CRL + ca.trusted_pem() + b"junk text between blocks\n")
    env = {"MOCK_KEY": KEY, "CODEX_CA_CERTIFICATE": str(bundle)}
    path, certs = load_custom_ca(env)  # type: ignore[misc]
    assert path == bundle and len(certs) == 2
    with MockResponsesServer(tls=ca.server_context("127.0.0.1")) as server:
        assert server.base_url.startswith("https://")
        server.enqueue(assistant_turn("over TLS"))
        run = stream(server.provider_config(), environ=env)
    assert run.error is None


def test_tls_without_the_ca_fails_with_a_hint_and_is_not_retried(tmp_path: Path) -> None:
    ca = TestCA()
    with MockResponsesServer(tls=ca.server_context("127.0.0.1")) as server:
        run = stream(server.provider_config(request_max_retries=3), environ={"MOCK_KEY": KEY})
        assert server.model_requests == []
    assert isinstance(run.error, TransportError)
    assert "could not be verified" in run.error.message
    assert "CODEX_CA_CERTIFICATE" in (run.error.hint or "")
    assert run.sleeps == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"no pem here", "contains no PEM certificate"),
        (CRL, "contains no PEM certificate"),
        (
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
            "not a valid certificate",
        ),
    ],
)
def test_bad_ca_files_are_errors(tmp_path: Path, content: bytes, message: str) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(content)
    with pytest.raises(ProviderConfigError, match=message):
        ssl_context_for("https://gw.example/v1", {"CODEX_CA_CERTIFICATE": str(bundle)})
    with pytest.raises(ProviderConfigError, match="cannot be read"):
        ssl_context_for(
            "https://gw.example/v1", {"CODEX_CA_CERTIFICATE": str(tmp_path / "missing.pem")}
        )


def test_plain_http_builds_no_trust_store(tmp_path: Path) -> None:
    """The CA file is not even read for an http:// URL (and that context trusts nothing)."""
    ctx = ssl_context_for(
        "http://127.0.0.1:1/v1", {"CODEX_CA_CERTIFICATE": str(tmp_path / "missing")}
    )
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.get_ca_certs() == []


class RecordingProxy(ThreadedHttpServer):
    """An HTTP proxy stand-in that records what reaches it and refuses to forward."""

    async def handle(self, request, w):  # type: ignore[no-untyped-def]
        await w.send(502, {"content-type": "text/plain"}, "proxy refuses")


def test_proxy_variables_are_ignored_unless_respect_system_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with RecordingProxy() as proxy, MockResponsesServer() as server:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.origin)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        server.enqueue(assistant_turn("direct"))
        run = stream(server.provider_config())
        assert run.error is None and proxy.requests == [] and len(server.model_requests) == 1
        run = stream(
            server.provider_config(request_max_retries=0),
            client_kwargs={"respect_system_proxy": True},
        )
        assert run.error is not None and len(server.model_requests) == 1
        (via,) = proxy.requests
        assert via.method == "POST" and via.path == "/v1/responses"
