"""Fixtures for the managed tests: key pairs, signed bundles, a real HTTPS policy server."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from codex_admin.managed import generate_keypair, load_private_key, pack_bundle, sign_bundle

# The CLI as a real subprocess (equivalent to .venv/bin/codex, without runpy's warning).
CODEX = [sys.executable, "-c", "from codex_admin.cli.main import main; main()"]


@dataclass
class KeyPair:
    private: Path
    public: Path
    public_b64: str


def make_keypair(directory: Path, name: str) -> KeyPair:
    _, b64 = generate_keypair(directory / f"{name}.key", directory / f"{name}.pub")
    return KeyPair(directory / f"{name}.key", directory / f"{name}.pub", b64)


@pytest.fixture
def new_keypair() -> Callable[[Path, str], KeyPair]:
    """Factory fixture (test modules cannot import conftest): ``new_keypair(dir, name)``."""
    return make_keypair


@pytest.fixture
def new_bundle() -> Callable[..., dict[str, object]]:
    """Factory fixture: ``new_bundle(dir, keypair, requirements_text, serial=N)`` -> wire form."""
    return make_bundle


@pytest.fixture
def keypair(tmp_path: Path) -> KeyPair:
    keys = tmp_path / "keys"
    keys.mkdir()
    return make_keypair(keys, "policy")


def make_bundle(
    directory: Path,
    key: KeyPair,
    requirements: str,
    *,
    serial: int,
    extra: dict[str, str] | None = None,
    now: float | None = None,
    valid_for: float | None = 30 * 86400.0,
) -> dict[str, object]:
    """Write a bundle directory, sign it with ``serial`` and return its wire form.

    ``now`` is the signing time (default: the current time), ``valid_for`` its signed lifetime.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "requirements.toml").write_text(requirements)
    for name, text in (extra or {}).items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    for stale in (".codex-bundle.json", ".codex-bundle.sig"):
        (directory / stale).unlink(missing_ok=True)
    sign_bundle(
        directory, load_private_key(key.private), serial=serial, now=now, valid_for=valid_for
    )
    return pack_bundle(directory)


# ------------------------------------------------------------------------------ TLS certificates


@dataclass
class Tls:
    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A throw-away CA and a server certificate for 127.0.0.1 signed by it."""
    out = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("codex-admin test CA"))
        .issuer_name(_name("codex-admin test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    tls = Tls(out / "ca.pem", out / "server.pem", out / "server.key")
    tls.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    tls.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tls.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return tls


# ----------------------------------------------------------------------------------- the server


@dataclass
class PolicyServer:
    """What the HTTPS handler serves; tests mutate it between requests."""

    port: int = 0
    body: bytes = b""
    etag: str | None = None
    status: int = 200
    delay: float = 0.0
    requests: list[dict[str, str | None]] = field(default_factory=list)
    httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/codex/bundle.json"

    def serve_bundle(self, wire: dict[str, object], etag: str | None = None) -> None:
        self.body = json.dumps(wire).encode()
        self.etag = etag
        self.status = 200

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


def _handler(state: PolicyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(
                {"path": self.path, "if_none_match": self.headers.get("If-None-Match")}
            )
            if state.delay:
                time.sleep(state.delay)
            if state.etag and self.headers.get("If-None-Match") == state.etag:
                self.send_response(304)
                self.send_header("ETag", state.etag)
                self.end_headers()
                return
            self.send_response(state.status)
            if state.etag:
                self.send_header("ETag", state.etag)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(state.body)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@pytest.fixture
def policy_server(tls: Tls) -> Iterator[PolicyServer]:
    state = PolicyServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    state.httpd = httpd
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    state.stop()
