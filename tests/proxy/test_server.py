"""The proxy over real sockets on 127.0.0.x with curl and httpx as clients."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import stat
from pathlib import Path

import httpx
import pytest

from codex_admin.proxy import SessionCA
from tests.proxy.helpers import (
    UpstreamCA,
    curl,
    make_inspecting_proxy,
    make_proxy,
    random_loopback,
    raw_exchange,
    run,
    start_upstream,
)


def test_curl_plain_http_is_forwarded_byte_exact(tmp_path: Path) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy:
            body = bytes(range(256)) * 40
            (tmp_path / "body.bin").write_bytes(body)
            url = f"http://127.0.0.1:{up.port}/path/x?q=1&r=%20"
            code, out, err = await curl(
                "-x",
                proxy.http_url,
                "--data-binary",
                f"@{tmp_path / 'body.bin'}",
                "-H",
                "X-Custom: kept",
                "-H",
                "Connection: X-Secret",
                "-H",
                "X-Secret: drop",
                url,
            )
            assert code == 0, err
            received = up.received[0]
            head, _, got_body = received.partition(b"\r\n\r\n")
            assert got_body == body
            assert head.startswith(b"POST /path/x?q=1&r=%20 HTTP/1.1\r\n")
            assert b"X-Custom: kept" in head
            assert b"X-Secret" not in head and b"Proxy-Connection" not in head
            assert out.encode("latin-1") == b"echo:" + received
        up.close()

    run(scenario())


def test_httpx_keep_alive_chunked_and_blocked(tmp_path: Path) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(
            tmp_path, {"domains": {"127.0.0.1": "allow", "blocked.example": "deny"}}
        )
        async with proxy, httpx.AsyncClient(proxy=proxy.http_url, trust_env=False) as client:
            for i in range(3):
                r = await client.get(f"http://127.0.0.1:{up.port}/n{i}")
                assert r.status_code == 200 and r.headers["x-upstream"] == "yes"

            async def gen():  # type: ignore[no-untyped-def]
                yield b"abc"
                yield b"defg"

            r = await client.post(f"http://127.0.0.1:{up.port}/chunk", content=gen())
            assert r.status_code == 200
            assert up.received[-1].endswith(b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
            r = await client.get("http://blocked.example/")
            assert r.status_code == 403
            assert r.headers["x-proxy-error"] == "blocked-by-denylist"
            assert r.json()["reason"] == "denied" and r.json()["host"] == "blocked.example"
            r = await client.get("http://other.example/")
            assert r.headers["x-proxy-error"] == "blocked-by-allowlist"
        assert [b.reason for b in proxy.blocked] == ["denied", "not_allowed"]
        up.close()

    run(scenario())


def test_connect_tunnel_to_https_upstream_with_curl(tmp_path: Path) -> None:
    async def scenario() -> None:
        ca = UpstreamCA.create(tmp_path)
        up = await start_upstream(ssl_context=ca.server_context(tmp_path, "api.example.com"))
        proxy, _ = make_proxy(
            tmp_path,
            {"allow_local_binding": True, "domains": {"api.example.com": "allow"}},
            answers={"api.example.com": ["127.0.0.1"]},
        )
        async with proxy:
            code, out, err = await curl(
                "-x",
                proxy.http_url,
                "--cacert",
                str(ca.pem_path),
                f"https://api.example.com:{up.port}/secure",
            )
            assert code == 0, err
            assert out.startswith("echo:GET /secure HTTP/1.1")
            code, out, err = await curl(
                "-x", proxy.http_url, "-k", f"https://evil.example.com:{up.port}/"
            )
            assert code != 0 and "403" in err
        up.close()

    run(scenario())


def test_limited_mode_inspects_https_and_verifies_against_session_bundle(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        ca = UpstreamCA.create(tmp_path)
        addr = random_loopback()
        up = await start_upstream(
            addr, 443, ssl_context=ca.server_context(tmp_path, "api.example.com")
        )
        proxy = make_inspecting_proxy(tmp_path, ca, "api.example.com", addr)
        async with proxy:
            bundle = proxy.ca_bundle_path
            assert bundle is not None and bundle.parent == tmp_path / "proxy"
            code, out, err = await curl(
                "-x",
                proxy.http_url,
                "--cacert",
                str(bundle),
                "https://api.example.com/inspected?x=1",
            )
            assert code == 0, err
            assert out.startswith("echo:GET /inspected?x=1 HTTP/1.1\r\nHost: api.example.com")
            code, out, err = await curl(
                "-x",
                proxy.http_url,
                "--cacert",
                str(bundle),
                "-i",
                "-d",
                "secret",
                "https://api.example.com/upload",
            )
            assert "HTTP/1.1 403 Forbidden" in out  # after the CONNECT's own 200
            assert "x-proxy-error: blocked-by-method-policy" in out
            assert all(b"secret" not in r for r in up.received)
            # SOCKS5 to :443 goes through the same inspection.
            socks = f"{proxy.socks_address[0]}:{proxy.socks_address[1]}"  # type: ignore[index]
            code, out, err = await curl(
                "--socks5-hostname",
                socks,
                "--cacert",
                str(bundle),
                "https://api.example.com/via-socks",
            )
            assert code == 0 and out.startswith("echo:GET /via-socks"), err
            # The session CA is not trusted by default: without the bundle curl refuses.
            code, _, err = await curl("-x", proxy.http_url, "https://api.example.com/")
            assert code == 60, err
            # httpx with the bundle as its trust store.
            ctx = ssl.create_default_context(cafile=str(bundle))
            async with httpx.AsyncClient(
                proxy=proxy.http_url, verify=ctx, trust_env=False
            ) as client:
                r = await client.get("https://api.example.com/httpx")
                assert r.status_code == 200 and r.text.startswith("echo:GET /httpx")
        up.close()

    run(scenario())


def test_socks5_with_curl(tmp_path: Path) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(
            tmp_path,
            {"allow_local_binding": True, "domains": {"svc.example.com": "allow"}},
            answers={"svc.example.com": ["127.0.0.1"]},
        )
        async with proxy:
            socks = f"{proxy.socks_address[0]}:{proxy.socks_address[1]}"  # type: ignore[index]
            code, out, err = await curl(
                "--socks5-hostname", socks, f"http://svc.example.com:{up.port}/s"
            )
            assert code == 0 and out.startswith("echo:GET /s HTTP/1.1"), err
            code, _, err = await curl(
                "--socks5-hostname", socks, f"http://nope.example.com:{up.port}/"
            )
            assert code != 0
            assert proxy.blocked[-1].protocol == "socks5_tcp"
        up.close()

    run(scenario())


def test_unix_socket_listener_and_audit_log(tmp_path: Path) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        sockdir = tmp_path / "sock"
        sockdir.mkdir()
        log = tmp_path / "audit.jsonl"
        proxy, _ = make_proxy(
            tmp_path, {"domains": {"127.0.0.1": "allow"}}, unix_socket_dir=sockdir, audit_log=log
        )
        async with proxy:
            assert proxy.http_unix_path == sockdir / "http.sock"
            assert stat.S_IMODE(os.stat(proxy.http_unix_path).st_mode) == 0o600
            code, out, err = await curl(
                "--unix-socket",
                str(proxy.http_unix_path),
                "--proxy",
                "http://proxy",
                f"http://127.0.0.1:{up.port}/unix",
            )
            assert code == 0 and "GET /unix" in out, err
            await curl(
                "--unix-socket",
                str(proxy.http_unix_path),
                "--proxy",
                "http://proxy",
                "http://denied.example/",
            )
        assert not (sockdir / "http.sock").exists()
        events = [json.loads(line) for line in log.read_text().splitlines()]
        assert [e["network.policy.decision"] for e in events] == ["allow", "deny"]
        assert events[1]["client.address"] == "unix"
        assert all("/unix" not in json.dumps(e) for e in events)  # no paths in audit events
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        up.close()

    run(scenario())


def test_disabled_proxy_and_upstream_failure(tmp_path: Path) -> None:
    async def scenario() -> None:
        proxy, _ = make_proxy(tmp_path, {"enabled": False, "domains": {"*": "allow"}})
        async with proxy:
            reply = await raw_exchange(
                proxy.http_address, b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n"
            )
            assert reply.startswith(b"HTTP/1.1 503 ")
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy:
            reply = await raw_exchange(
                proxy.http_address, b"GET http://127.0.0.1:1/ HTTP/1.1\r\n\r\n"
            )
            assert reply.startswith(b"HTTP/1.1 502 ")

    run(scenario())


def test_clean_shutdown_leaves_no_tasks_or_sockets(tmp_path: Path) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        before = len(os.listdir("/proc/self/fd"))
        tasks_before = len(asyncio.all_tasks())
        await proxy.start()
        # An idle client, an open tunnel and a half-sent request are all live at stop().
        idle = await asyncio.open_connection(*proxy.http_address)
        tunnel = await asyncio.open_connection(*proxy.http_address)
        tunnel[1].write(f"CONNECT 127.0.0.1:{up.port} HTTP/1.1\r\n\r\n".encode())
        assert (await tunnel[0].readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        partial = await asyncio.open_connection(*proxy.http_address)
        partial[1].write(b"GET http://127.0.0.1/ HTTP/1.1\r\n")
        await asyncio.sleep(0.1)
        assert proxy.active_connections == 3
        await proxy.stop()
        for _, w in (idle, tunnel, partial):
            w.close()
        up.close()
        await up.server.wait_closed()
        await asyncio.sleep(0.1)
        assert proxy.active_connections == 0
        assert len(asyncio.all_tasks()) == tasks_before
        assert len(os.listdir("/proc/self/fd")) <= before

    run(scenario())


def test_session_ca_properties_and_artifacts(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    ca = SessionCA()
    cert = ca.certificate
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.ca and bc.path_length == 0
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 1
    leaf, _ = ca.leaf_certificate("10.1.2.3")
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]
    assert ca.server_context("a.example") is ca.server_context("a.example")  # cached
    # A symlink planted at the target name is replaced, never written through.
    (tmp_path / "proxy").mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep")
    import hashlib

    name = f"ca-{hashlib.sha256(ca.cert_pem).hexdigest()}.pem"
    (tmp_path / "proxy" / name).symlink_to(victim)
    ca_path, bundle = ca.write_artifacts(tmp_path)
    assert victim.read_text() == "keep"
    assert not ca_path.is_symlink() and ca_path.read_bytes() == ca.cert_pem
    assert stat.S_IMODE(ca_path.stat().st_mode) == 0o644
    assert bundle.read_bytes().endswith(ca.cert_pem)
    assert bundle.name == f"ca-bundle-{hashlib.sha256(bundle.read_bytes()).hexdigest()}.pem"
    for path in (tmp_path / "proxy").iterdir():
        assert b"PRIVATE KEY" not in path.read_bytes()


def test_non_loopback_bind_needs_explicit_flag(tmp_path: Path) -> None:
    from codex_admin.errors import CodexError

    with pytest.raises(CodexError, match="non-loopback"):
        make_proxy(tmp_path, {}, http_bind=("0.0.0.0", 0))
