"""Real local upstreams (HTTP and HTTPS with a test CA) and client helpers for proxy tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from codex_admin.proxy import ProxyServer, StaticResolver, build_network_policy, choose_event_loop


def run(coro: Awaitable[Any]) -> Any:
    """Run a scenario on the loop ``CODEX_PROXY_EVENT_LOOP`` picks (``asyncio`` by default
    here, so `CODEX_PROXY_EVENT_LOOP=uvloop pytest tests/proxy` runs every scenario on uvloop).
    """
    choice = os.environ.get("CODEX_PROXY_EVENT_LOOP", "asyncio")
    _, factory = choose_event_loop({"CODEX_PROXY_EVENT_LOOP": choice})
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)  # type: ignore[arg-type]


def random_loopback() -> str:
    """A random 127.x.y.z so parallel test runs never collide on fixed ports like 443."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


@dataclass
class Upstream:
    """A tiny HTTP/1.1 origin that records every raw request and echoes it back."""

    host: str
    port: int
    server: asyncio.Server
    received: list[bytes] = field(default_factory=list)

    def close(self) -> None:
        self.server.close()


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    body = b""
    lower = head.lower()
    if b"content-length:" in lower:
        length = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
    elif b"transfer-encoding: chunked" in lower:
        while True:
            line = await reader.readuntil(b"\r\n")
            size = int(line.split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            body += line + chunk
            if size == 0:
                break
    return head + body


async def start_upstream(
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
    respond: Callable[[bytes], bytes] | None = None,
) -> Upstream:
    upstream: Upstream

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                raw = await _read_request(reader)
                if raw is None:
                    break
                upstream.received.append(raw)
                if respond is not None:
                    writer.write(respond(raw))
                else:
                    body = b"echo:" + raw
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                        b"X-Upstream: yes\r\nContent-Length: %d\r\n\r\n" % len(body) + body
                    )
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port, ssl=ssl_context)
    bound = server.sockets[0].getsockname()
    upstream = Upstream(bound[0], bound[1], server)
    return upstream


@dataclass
class UpstreamCA:
    """A CA for the *upstream* HTTPS server (distinct from the proxy's session CA)."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    pem_path: Path

    @classmethod
    def create(cls, directory: Path) -> UpstreamCA:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "upstream test CA")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        path = directory / "upstream-ca.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(key, cert, path)

    def server_context(self, directory: Path, host: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        try:
            san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            san = x509.DNSName(host)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path = directory / f"{host}.pem"
        key_path = directory / f"{host}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_path, key_path)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.pem_path))


def make_proxy(
    home: Path,
    network: dict[str, Any],
    *,
    managed: dict[str, Any] | None = None,
    answers: dict[str, list[str]] | None = None,
    **kwargs: Any,
) -> tuple[ProxyServer, StaticResolver]:
    policy = build_network_policy({"enabled": True, **network}, managed)
    resolver = StaticResolver(answers or {})
    return ProxyServer(policy, codex_home=home, resolver=resolver, **kwargs), resolver


def make_inspecting_proxy(home: Path, ca: UpstreamCA, host: str, address: str) -> ProxyServer:
    """A limited-mode proxy that inspects HTTPS to ``host`` (resolved to the loopback
    ``address``) and trusts the upstream certificates ``ca`` signs."""
    proxy, _ = make_proxy(
        home,
        {"mode": "limited", "allow_local_binding": True, "domains": {host: "allow"}},
        answers={host: [address]},
        upstream_ssl_context=ca.client_context(),
    )
    return proxy


async def curl(*args: str, timeout: float = 20) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        "curl",
        "-sS",
        "--noproxy",
        "",
        "--max-time",
        "15",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode("latin-1"), err.decode("latin-1")


async def raw_exchange(
    address: tuple[str, int], data: bytes, *, read_timeout: float = 5.0
) -> bytes:
    """Send raw bytes to the proxy and read until it closes (or the timeout)."""
    reader, writer = await asyncio.open_connection(*address)
    writer.write(data)
    await writer.drain()
    chunks = []
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), read_timeout)
            if not chunk:
                break
            chunks.append(chunk)
    except TimeoutError:
        pass
    writer.close()
    return b"".join(chunks)
