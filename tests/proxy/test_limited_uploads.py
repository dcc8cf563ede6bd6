"""Limited mode carries no uploads (issue 10): bodies on read-only methods and method overrides.

Every vector goes to a real proxy over a real socket, plain HTTP and inside inspected HTTPS
(CONNECT and SOCKS5 to :443 with the session CA); the upstream must never see a refused
request. Full mode is unaffected.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from codex_admin.proxy import RequestShape, build_network_policy
from codex_admin.proxy.http1 import body_framing, parse_head
from tests.proxy.helpers import (
    UpstreamCA,
    make_inspecting_proxy,
    make_proxy,
    random_loopback,
    raw_exchange,
    run,
    start_upstream,
)

# (request line + headers after the target, body) — each must be refused in limited mode.
UPLOADS = [
    pytest.param("GET", "Content-Length: 6\r\n", b"secret", id="get-content-length"),
    pytest.param("HEAD", "Content-Length: 6\r\n", b"secret", id="head-content-length"),
    pytest.param("OPTIONS", "Content-Length: 6\r\n", b"secret", id="options-content-length"),
    pytest.param(
        "GET", "Transfer-Encoding: chunked\r\n", b"6\r\nsecret\r\n0\r\n\r\n", id="get-chunked"
    ),
    pytest.param("GET", "Transfer-Encoding: chunked\r\n", b"0\r\n\r\n", id="get-empty-chunked"),
    pytest.param("GET", "X-HTTP-Method-Override: POST\r\n", b"", id="x-http-method-override"),
    pytest.param("GET", "x-http-method-override: put\r\n", b"", id="override-lower-case"),
    pytest.param("GET", "X-HTTP-Method: DELETE\r\n", b"", id="x-http-method"),
    pytest.param("GET", "X-Method-Override: PATCH\r\n", b"", id="x-method-override"),
    pytest.param("GET", "X-Original-Method: POST\r\n", b"", id="x-original-method"),
    pytest.param("HEAD", "X-HTTP-Method-Override: POST\r\n", b"", id="head-override"),
    pytest.param(
        "GET",
        "Connection: X-HTTP-Method-Override\r\nX-HTTP-Method-Override: POST\r\n",
        b"",
        id="override-named-in-connection",
    ),
    pytest.param(
        "OPTIONS", "Access-Control-Request-Method: POST\r\n", b"", id="cors-preflight-for-post"
    ),
]
QUERY_OVERRIDES = [
    "/?_method=POST",
    "/?a=1&_METHOD=put",
    "/?%5Fmethod=delete",
    "/?x-http-method-override=PATCH",
    "/?a=1;_method=POST",
    "/?%24method=POST",
    "/?method_override=POST",
    "/x?X-HTTP-Method=DELETE#frag",
]
ALLOWED = [
    ("GET", "/", "Content-Length: 0\r\n", b""),
    ("GET", "/?method=flickr.photos.search", "", b""),  # an API parameter, not an override
    ("OPTIONS", "/", "Access-Control-Request-Method: GET\r\n", b""),
    ("HEAD", "/", "X-Request-Id: 7\r\n", b""),
]


def _status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0


def _request(method: str, target: str, host: str, headers: str, body: bytes) -> bytes:
    return f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode() + body


@pytest.mark.parametrize(("method", "headers", "body"), UPLOADS)
def test_limited_plain_http_refuses_uploads(
    tmp_path: Path, method: str, headers: str, body: bytes
) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(
            tmp_path, {"mode": "limited", "mitm": False, "domains": {"127.0.0.1": "allow"}}
        )
        async with proxy:
            host = f"127.0.0.1:{up.port}"
            reply = await raw_exchange(
                proxy.http_address, _request(method, f"http://{host}/up", host, headers, body)
            )
        up.close()
        assert _status(reply) == 403, reply[:300]
        assert b"x-proxy-error: blocked-by-method-policy" in reply
        assert b"limited mode" in reply
        assert up.received == []
        assert [b.reason for b in proxy.blocked] == ["method_not_allowed"]

    run(scenario())


@pytest.mark.parametrize("path", QUERY_OVERRIDES)
def test_limited_plain_http_refuses_query_method_overrides(tmp_path: Path, path: str) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        proxy, _ = make_proxy(
            tmp_path, {"mode": "limited", "mitm": False, "domains": {"127.0.0.1": "allow"}}
        )
        async with proxy:
            host = f"127.0.0.1:{up.port}"
            reply = await raw_exchange(
                proxy.http_address, _request("GET", f"http://{host}{path}", host, "", b"")
            )
        up.close()
        assert _status(reply) == 403 and b"blocked-by-method-policy" in reply, reply[:300]
        assert up.received == []

    run(scenario())


def test_limited_mode_still_serves_reads_and_full_mode_carries_bodies(tmp_path: Path) -> None:
    async def scenario() -> None:
        up = await start_upstream()
        limited, _ = make_proxy(
            tmp_path, {"mode": "limited", "mitm": False, "domains": {"127.0.0.1": "allow"}}
        )
        full, _ = make_proxy(tmp_path, {"mode": "full", "domains": {"127.0.0.1": "allow"}})
        host = f"127.0.0.1:{up.port}"
        async with limited, full:
            for method, path, headers, body in ALLOWED:
                reply = await raw_exchange(
                    limited.http_address,
                    _request(
                        method,
                        f"http://{host}{path}",
                        host,
                        headers + "Connection: close\r\n",
                        body,
                    ),
                )
                assert _status(reply) == 200, (method, path, reply[:200])
            reply = await raw_exchange(
                full.http_address,
                _request(
                    "GET",
                    f"http://{host}/?_method=POST",
                    host,
                    "Content-Length: 4\r\nX-HTTP-Method-Override: POST\r\nConnection: close\r\n",
                    b"body",
                ),
            )
            assert _status(reply) == 200 and up.received[-1].endswith(b"body")
        up.close()

    run(scenario())


@pytest.mark.parametrize("via", ["connect", "socks5"])
def test_limited_inspected_https_refuses_uploads(tmp_path: Path, via: str) -> None:
    """The same guard inside MITM: CONNECT :443 and SOCKS5 :443, TLS with the session CA."""

    async def scenario() -> None:
        ca = UpstreamCA.create(tmp_path)
        addr = random_loopback()
        up = await start_upstream(
            addr, 443, ssl_context=ca.server_context(tmp_path, "api.example.com")
        )
        proxy = make_inspecting_proxy(tmp_path, ca, "api.example.com", addr)
        async with proxy:
            assert proxy.ca_bundle_path is not None
            trust = ssl.create_default_context(cafile=str(proxy.ca_bundle_path))

            async def inner(request: bytes) -> bytes:
                if via == "connect":
                    reader, writer = await asyncio.open_connection(*proxy.http_address)
                    writer.write(b"CONNECT api.example.com:443 HTTP/1.1\r\n\r\n")
                    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
                else:
                    assert proxy.socks_address is not None
                    reader, writer = await asyncio.open_connection(*proxy.socks_address)
                    name = b"api.example.com"
                    writer.write(
                        b"\x05\x01\x00\x05\x01\x00\x03" + bytes([len(name)]) + name + b"\x01\xbb"
                    )
                    assert await reader.readexactly(2) == b"\x05\x00"
                    assert (await reader.readexactly(10))[1] == 0
                await writer.start_tls(trust, server_hostname="api.example.com")
                writer.write(request)
                chunks = []
                try:
                    while chunk := await asyncio.wait_for(reader.read(65536), 5):
                        chunks.append(chunk)
                except (TimeoutError, ConnectionError, ssl.SSLError):
                    pass
                writer.close()
                return b"".join(chunks)

            host = "api.example.com"
            for method, headers, body in [p.values for p in UPLOADS]:
                reply = await inner(_request(method, "/up", host, headers, body))
                assert _status(reply) == 403, (method, headers, reply[:200])
                assert b"blocked-by-method-policy" in reply
            for path in QUERY_OVERRIDES[:3]:
                reply = await inner(_request("GET", path, host, "", b""))
                assert _status(reply) == 403, (path, reply[:200])
            ok = await inner(_request("GET", "/read", host, "Connection: close\r\n", b""))
            assert _status(ok) == 200 and b"echo:GET /read" in ok
        up.close()
        assert all(b"secret" not in r and b"POST" not in r for r in up.received)
        assert len(up.received) == 1

    run(scenario())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", "request body"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-Http-Method-Override: PUT\r\n\r\n", "X-Http-Method"),
        (b"GET /?_method=put HTTP/1.1\r\nHost: a\r\n\r\n", "_method"),
        (b"GET /?a=%5f%4Dethod HTTP/1.1\r\nHost: a\r\n\r\n", None),  # a value, not a name
        (b"GET /?a=b HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", None),
    ],
)
def test_request_shape_upload_signal(raw: bytes, expected: str | None) -> None:
    head = parse_head(raw, request=True)
    signal = RequestShape(head, body_framing(head, request=True)).upload_signal()
    assert (signal is None) if expected is None else (signal is not None and expected in signal)


def test_full_mode_policy_never_looks_at_the_shape() -> None:
    from codex_admin.proxy import StaticResolver, decide

    head = parse_head(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-HTTP-Method-Override: DELETE\r\n\r\n", request=True
    )
    full = build_network_policy({"enabled": True, "domains": {"93.184.216.34": "allow"}}, None)
    decision = asyncio.run(
        decide(
            full,
            protocol="http",
            host="93.184.216.34",
            port=80,
            method="GET",
            resolver=StaticResolver({}),
            request=RequestShape(head, ("none", 0)),
        )
    )
    assert decision.allowed
