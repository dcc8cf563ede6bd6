"""Attack suite (spec §15): nothing unapproved gets through and the proxy stays up.

Each test talks raw bytes to a real proxy on 127.0.0.1 and asserts both the answer and that the
upstream saw nothing it should not have.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path

import pytest

from tests.proxy.helpers import (
    UpstreamCA,
    make_proxy,
    random_loopback,
    raw_exchange,
    run,
    start_upstream,
)


def _status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "LOCALHOST.",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "0x7f.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::1]",
        "[fe80::1%25lo]",
        "169.254.169.254",
        "[fd00:ec2::254]",
        "１２７.０.０.１",
        "127.0.0.1.",
    ],
)
def test_ip_literal_forms_never_reach_loopback(tmp_path: Path, host: str) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        proxy, resolver = make_proxy(tmp_path, {"domains": {"*": "allow"}})
        async with proxy:
            target = f"{host}:{up.port}"
            for request in (
                f"GET http://{target}/ HTTP/1.1\r\nHost: {target}\r\n\r\n",
                f"CONNECT {target} HTTP/1.1\r\n\r\n",
            ):
                reply = await raw_exchange(proxy.http_address, request.encode("utf-8"))
                assert _status(reply) in (400, 403), reply[:80]
        assert up.received == []
        assert resolver.calls == []  # no literal form was ever handed to DNS
        up.close()

    run(scenario())


def test_case_trailing_dot_and_suffix_confusion(tmp_path: Path) -> None:
    async def scenario() -> None:
        proxy, _ = make_proxy(
            tmp_path,
            {"domains": {"**.example.com": "allow", "secret.example.com": "deny"}},
            answers={"example.com.evil.net": ["93.184.216.34"]},
        )
        async with proxy:
            for host, expected in (
                ("SECRET.Example.COM.", "blocked-by-denylist"),
                ("secret.example.com..", "blocked-by-denylist"),
                ("evilexample.com", "blocked-by-allowlist"),
                ("example.com.evil.net", "blocked-by-allowlist"),
            ):
                reply = await raw_exchange(
                    proxy.http_address, f"CONNECT {host}:443 HTTP/1.1\r\n\r\n".encode()
                )
                assert _status(reply) == 403 and expected.encode() in reply, host

    run(scenario())


def test_idn_hosts_compare_as_punycode(tmp_path: Path) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(
            tmp_path,
            {"allow_local_binding": True, "domains": {"*": "allow", "bücher.example": "deny"}},
            answers={"xn--bcher-kva.example": ["127.0.0.1"]},
        )
        async with proxy:
            reply = await raw_exchange(
                proxy.http_address,
                f"CONNECT xn--bcher-kva.example:{up.port} HTTP/1.1\r\n\r\n".encode(),
            )
            assert _status(reply) == 403 and b"blocked-by-denylist" in reply
            # SOCKS5 carries raw UTF-8 names: same rule.
            name = "BÜCHER.example".encode()
            reader, writer = await asyncio.open_connection(*proxy.socks_address)  # type: ignore[misc]
            writer.write(
                b"\x05\x01\x00"
                + b"\x05\x01\x00\x03"
                + bytes([len(name)])
                + name
                + up.port.to_bytes(2, "big")
            )
            await writer.drain()
            assert await reader.readexactly(2) == b"\x05\x00"
            assert (await reader.readexactly(10))[1] == 0x02  # not allowed by ruleset
            writer.close()
        assert up.received == []
        up.close()

    run(scenario())


def test_host_header_must_match_absolute_form_and_userinfo_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy:
            base = f"127.0.0.1:{up.port}"
            bad = [
                f"GET http://{base}/ HTTP/1.1\r\nHost: evil.example\r\n\r\n",
                f"GET http://{base}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  # port differs
                f"GET http://{base}/ HTTP/1.1\r\nHost: {base}\r\nHost: {base}\r\n\r\n",
                "GET http://allowed@evil.example/ HTTP/1.1\r\n\r\n",
                f"GET http://{base}@evil.example/ HTTP/1.1\r\n\r\n",
                f"GET https://{base}/ HTTP/1.1\r\n\r\n",
                "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET / HTTP/1.1\r\n\r\n",  # origin-form without Host
            ]
            for request in bad:
                reply = await raw_exchange(proxy.http_address, request.encode())
                assert _status(reply) == 400, (request, reply[:60])
            # Origin-form: the Host header is the target, and policy applies to it (A5).
            reply = await raw_exchange(
                proxy.http_address, b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n"
            )
            assert _status(reply) == 403
            reply = await raw_exchange(
                proxy.http_address,
                f"GET /ok HTTP/1.1\r\nHost: {base}\r\n\r\n".encode(),
                read_timeout=0.5,
            )
            assert _status(reply) == 200
        assert len(up.received) == 1 and up.received[0].startswith(b"GET /ok ")
        up.close()

    run(scenario())


def test_host_and_sni_must_match_connect_target_inside_inspection(tmp_path: Path) -> None:
    async def scenario() -> None:
        ca = UpstreamCA.create(tmp_path)
        addr = random_loopback()
        up = await start_upstream(
            addr, 443, ssl_context=ca.server_context(tmp_path, "api.example.com")
        )
        proxy, _ = make_proxy(
            tmp_path,
            {
                "mitm": True,
                "allow_local_binding": True,
                "domains": {"api.example.com": "allow", "other.example.com": "allow"},
            },
            answers={"api.example.com": [addr], "other.example.com": [addr]},
            upstream_ssl_context=ca.client_context(),
        )
        async with proxy:
            assert proxy.ca_bundle_path is not None
            client_ctx = ssl.create_default_context(cafile=str(proxy.ca_bundle_path))

            async def inner(request: bytes, sni: str = "api.example.com") -> bytes:
                reader, writer = await asyncio.open_connection(*proxy.http_address)
                writer.write(b"CONNECT api.example.com:443 HTTP/1.1\r\n\r\n")
                await reader.readuntil(b"\r\n\r\n")
                await writer.start_tls(client_ctx, server_hostname=sni)
                writer.write(request)
                data = await asyncio.wait_for(reader.read(65536), 5)
                writer.close()
                return data

            assert _status(await inner(b"GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n")) == 200
            for request in (
                b"GET / HTTP/1.1\r\nHost: other.example.com\r\n\r\n",  # domain fronting
                b"GET https://other.example.com/ HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
                b"GET / HTTP/1.1\r\n\r\n",
            ):
                assert _status(await inner(request)) == 400
            nested = await inner(b"CONNECT other.example.com:443 HTTP/1.1\r\n\r\n")
            assert _status(nested) == 405
            with pytest.raises((ssl.SSLError, ConnectionError)):  # SNI != CONNECT target
                await inner(
                    b"GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n", sni="other.example.com"
                )
        assert len(up.received) == 1
        up.close()

    run(scenario())


def test_dns_rebinding_dials_only_checked_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The public address must never really be contacted from a test: stand in for the internet
    # with a dialer that records the attempt and refuses it. Every other dial is real.
    from codex_admin.proxy import server as server_module

    dialled: list[tuple[str, int]] = []
    real_open = asyncio.open_connection

    async def guarded_open(host: str, port: int, **kwargs: object) -> object:
        if host == "93.184.216.34":
            dialled.append((host, port))
            raise ConnectionRefusedError("public internet is not reachable from tests")
        return await real_open(host, port, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(server_module.asyncio, "open_connection", guarded_open)

    async def scenario() -> None:
        up = await start_upstream()
        proxy, resolver = make_proxy(
            tmp_path,
            {"domains": {"rebind.example.com": "allow"}},
            answers={"rebind.example.com": ["93.184.216.34"]},
        )
        # The first answer is public; any later one would be loopback.
        original = resolver.resolve

        async def flipping(host: str) -> list[str]:
            answer = await original(host)
            resolver.answers[host] = ["127.0.0.1"]
            return answer

        resolver.resolve = flipping  # type: ignore[method-assign]
        async with proxy:
            reply = await raw_exchange(
                proxy.http_address,
                f"GET http://rebind.example.com:{up.port}/ HTTP/1.1\r\n\r\n".encode(),
            )
            # The pinned public address is unreachable here (502); loopback is never dialled.
            assert _status(reply) == 502
            reply = await raw_exchange(
                proxy.http_address,
                f"GET http://rebind.example.com:{up.port}/ HTTP/1.1\r\n\r\n".encode(),
            )
            assert _status(reply) == 403 and b"not_allowed_local" in reply
        assert up.received == []
        assert dialled == [("93.184.216.34", up.port)]
        up.close()

    run(scenario())


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"Content-Length: 5\r\nContent-Length: 5\r\n",
        b"Content-Length: 5, 5\r\n",
        b"Content-Length: -5\r\n",
        b"Transfer-Encoding: gzip, chunked\r\n",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding : chunked\r\n",
        b"X-Folded: a\r\n b\r\n",
        b"X-Bare: a\rb\r\n",
    ],
)
def test_request_smuggling_is_refused(tmp_path: Path, framing: bytes) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy:
            request = (
                f"POST http://127.0.0.1:{up.port}/ HTTP/1.1\r\n".encode()
                + framing
                + b"\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            reply = await raw_exchange(proxy.http_address, request)
            assert _status(reply) == 400, reply[:80]
        assert up.received == []
        up.close()

    run(scenario())


def test_oversized_heads_are_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        proxy, _ = make_proxy(tmp_path, {"domains": {"*": "allow"}})
        async with proxy:
            big = b"GET http://example.com/ HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n"
            assert _status(await raw_exchange(proxy.http_address, big)) == 431
            many = (
                b"GET http://example.com/ HTTP/1.1\r\n"
                + b"".join(b"X-%d: 1\r\n" % i for i in range(150))
                + b"\r\n"
            )
            assert _status(await raw_exchange(proxy.http_address, many)) == 431

    run(scenario())


def test_slow_clients_are_dropped_and_others_still_served(tmp_path: Path) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}}, header_timeout=0.5)
        async with proxy:
            slow = [await asyncio.open_connection(*proxy.http_address) for _ in range(20)]
            socks_slow = await asyncio.open_connection(*proxy.socks_address)  # type: ignore[misc]
            for _, writer in slow:
                writer.write(b"GET http://127.0.0.1/ HTTP/1.1\r\nX-Slow: ")
            socks_slow[1].write(b"\x05")
            started = time.monotonic()
            reply = await raw_exchange(
                proxy.http_address,
                f"GET http://127.0.0.1:{up.port}/ HTTP/1.1\r\nConnection: close\r\n\r\n".encode(),
            )
            assert _status(reply) == 200
            for reader, _ in [*slow, socks_slow]:
                assert await asyncio.wait_for(reader.read(), 3) == b""  # closed by the proxy
            assert time.monotonic() - started < 3
            assert proxy.active_connections == 0
            for _, writer in [*slow, socks_slow]:
                writer.close()
        up.close()

    run(scenario())


def test_500_concurrent_connections(tmp_path: Path) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(tmp_path, {"domains": {"127.0.0.1": "allow"}})
        async with proxy:

            async def one(i: int) -> int:
                host = "127.0.0.1" if i % 2 else "denied.example"
                request = f"GET http://{host}:{up.port}/{i} HTTP/1.1\r\nConnection: close\r\n\r\n"
                reply = await raw_exchange(proxy.http_address, request.encode(), read_timeout=20)
                return _status(reply)

            statuses = await asyncio.gather(*(one(i) for i in range(500)))
            assert statuses.count(200) == 250 and statuses.count(403) == 250
            assert len(up.received) == 250
            assert len(proxy.blocked) == 200  # ring buffer keeps the last 200
            assert proxy.audit.blocked_total == 250
        up.close()

    run(scenario())


def test_limited_mode_bypass_attempts(tmp_path: Path) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(
            tmp_path, {"mode": "limited", "mitm": False, "domains": {"127.0.0.1": "allow"}}
        )
        async with proxy:
            addr = proxy.http_address
            for request, header in (
                (
                    f"POST http://127.0.0.1:{up.port}/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                    b"blocked-by-method-policy",
                ),
                (f"get http://127.0.0.1:{up.port}/ HTTP/1.1\r\n\r\n", b"blocked-by-method-policy"),
                (
                    f"TRACE http://127.0.0.1:{up.port}/ HTTP/1.1\r\n\r\n",
                    b"blocked-by-method-policy",
                ),
                (f"CONNECT 127.0.0.1:{up.port} HTTP/1.1\r\n\r\n", b"blocked-by-method-policy"),
                ("CONNECT 127.0.0.1:443 HTTP/1.1\r\n\r\n", b"blocked-by-mitm-required"),
            ):
                reply = await raw_exchange(addr, request.encode())
                assert _status(reply) == 403 and header in reply, request
            # WebSocket upgrade headers never reach the upstream (A21).
            await raw_exchange(
                addr,
                (
                    f"GET http://127.0.0.1:{up.port}/ws HTTP/1.1\r\n"
                    "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                ).encode(),
                read_timeout=0.5,
            )
            # SOCKS5: non-443 refused before policy; UDP ASSOCIATE refused.
            for cmd, port in ((1, up.port), (3, 443)):
                reader, writer = await asyncio.open_connection(*proxy.socks_address)  # type: ignore[misc]
                writer.write(
                    b"\x05\x01\x00" + bytes([5, cmd, 0, 1, 127, 0, 0, 1]) + port.to_bytes(2, "big")
                )
                await writer.drain()
                assert await reader.readexactly(2) == b"\x05\x00"
                assert (await reader.readexactly(10))[1] == 0x02
                writer.close()
        assert len(up.received) == 1
        assert b"upgrade" not in up.received[0].lower()
        assert {b.reason for b in proxy.blocked} == {"method_not_allowed", "mitm_required"}
        up.close()

    run(scenario())
