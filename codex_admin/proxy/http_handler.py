"""HTTP/1.1 listener: absolute-form forwarding, CONNECT tunnels and inspected HTTPS.

Ordering follows spec §5 and §7: parse strictly (400/431) → Host agreement (400) → enabled
(503) → host policy (403) → limited-mode method check (403) → forward. CONNECT: authority with
an explicit port (400) → enabled → mode guard (limited: port 443 only) → host policy → MITM
required → tunnel or inspect. Inside an inspected tunnel each request must name the CONNECT
target (400), nested CONNECT gets 405, and the local guard and method clamp run again.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from codex_admin.proxy.hosts import HostError, normalize_host
from codex_admin.proxy.http1 import (
    Authority,
    Head,
    ProtocolError,
    body_framing,
    forward_headers,
    parse_authority,
    parse_head,
    parse_request_target,
    serialize_head,
)
from codex_admin.proxy.policy import Decision
from codex_admin.proxy.streams import copy_body, read_head
from codex_admin.proxy.tunnel import tunnel_streams

if TYPE_CHECKING:
    from codex_admin.proxy.server import ProxyServer
    from codex_admin.proxy.upstream import UpstreamProxy

__all__ = ["handle_http", "run_inspected"]

_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    405: "Method Not Allowed",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
Upstream = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Dialled = TypeVar("Dialled")
# Plain-HTTP keep-alive upstreams per (host, port), with the upstream proxy they go through.
Pool = dict[tuple[str, int], tuple[Upstream, "UpstreamProxy | None"]]


def _client_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return "unix" if peer == "" else "unknown"


async def send_simple(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    *,
    content_type: str = "text/plain; charset=utf-8",
    proxy_error: str | None = None,
) -> None:
    """Answer and announce that the connection will close."""
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    if proxy_error:
        headers.append(("x-proxy-error", proxy_error))
    headers.append(("Connection", "close"))
    writer.write(serialize_head(("HTTP/1.1", str(status), _REASONS.get(status, "Error")), headers))
    writer.write(body)
    await writer.drain()


async def send_decision(
    writer: asyncio.StreamWriter, decision: Decision, *, protocol: str, method: str, json_body: bool
) -> None:
    from codex_admin.proxy.server import blocked_json

    status = decision.status or 403
    if json_body and status == 403:
        body = blocked_json(decision, protocol, method)
        await send_simple(
            writer, 403, body, content_type="application/json", proxy_error=decision.x_proxy_error
        )
        return
    text = f"{decision.message} ({decision.host}: {decision.reason})\n".encode()
    await send_simple(writer, status, text, proxy_error=decision.x_proxy_error)


async def handle_http(
    server: ProxyServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    client = _client_name(writer)
    upstream: Pool = {}
    try:
        while True:
            try:
                raw = await read_head(reader, server.header_timeout)
                if raw is None:
                    return
                head = parse_head(raw, request=True)
                if head.start[0] == "CONNECT":
                    await _connect(server, reader, writer, head, client)
                    return
                if not await _plain(server, reader, writer, head, client, upstream):
                    return
            except ProtocolError as err:
                await send_simple(writer, err.status, f"{err.message}\n".encode())
                return
            except TimeoutError:
                return
    finally:
        for (_, up_writer), _via in upstream.values():
            up_writer.close()


def _request_authority(head: Head, *, default_port: int) -> tuple[Authority, str]:
    """Target authority and origin-form path; absolute-form must agree with Host (A3)."""
    hosts = head.get_all("host")
    if len(hosts) > 1:
        raise ProtocolError("more than one Host header")
    authority, path = parse_request_target(head.start[1])
    if authority is None:
        if not hosts:
            raise ProtocolError("missing host")
        return parse_authority(hosts[0], default_port), path
    if hosts:
        given = parse_authority(hosts[0], default_port)
        if not _same_host(given.host, authority.host) or given.port != authority.port:
            raise ProtocolError("Host header does not match request target")
    return authority, path


def _same_host(a: str, b: str) -> bool:
    try:
        return normalize_host(a) == normalize_host(b)
    except HostError:
        return False


async def _plain(
    server: ProxyServer,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    head: Head,
    client: str,
    upstream: Pool,
) -> bool:
    """Forward one absolute-form request; return whether the client connection stays open."""
    method = head.start[0]
    authority, path = _request_authority(head, default_port=80)
    framing = body_framing(head, request=True)
    decision = await server.check(
        protocol="http", host=authority.host, port=authority.port, method=method, client=client
    )
    if not decision.allowed:
        await send_decision(writer, decision, protocol="http", method=method, json_body=True)
        return False
    key = (decision.host, authority.port)
    cached = upstream.pop(key, None)
    if cached is not None and cached[0][0].at_eof():  # the upstream closed while idle
        cached[0][1].close()
        cached = None
    if cached is None:
        for (_, old), _via in upstream.values():
            old.close()
        upstream.clear()
        cached = await _dial_or_answer(
            server, writer, decision, "http", method, client, server.dial_http(decision)
        )
        if cached is None:
            return False
    conn, via = cached
    host_value = head.get("host") or _host_value(authority, 80)
    # Through an upstream HTTP proxy the request goes in absolute form with its credentials,
    # naming the host exactly as the policy checked it (not the client's spelling).
    checked = Authority(decision.host.split("%", 1)[0], authority.port)
    target = path if via is None else f"http://{_host_value(checked, 80)}{path}"
    extra = [] if via is None else via.headers()
    keep = await exchange(
        server, reader, writer, head, target, host_value, framing, conn, extra_headers=extra
    )
    if keep[1]:
        upstream[key] = cached
    else:
        conn[1].close()
    return keep[0]


def _host_value(authority: Authority, default_port: int) -> str:
    host = f"[{authority.host}]" if ":" in authority.host else authority.host
    return host if authority.port == default_port else f"{host}:{authority.port}"


async def _dial_or_answer(
    server: ProxyServer,
    writer: asyncio.StreamWriter,
    decision: Decision,
    protocol: str,
    method: str,
    client: str,
    dial: Awaitable[Dialled],
) -> Dialled | None:
    """Await ``dial``; on failure answer the client (403 for a vetoed address, else 502)."""
    from codex_admin.proxy.server import DialError

    try:
        return await dial
    except DialError as err:
        if err.refused:
            server.refuse_dial(decision, protocol, method, client)
            refused = Decision(
                False, "not_allowed_local", decision.host, decision.port, decision="deny"
            )
            await send_decision(
                writer, refused, protocol=protocol, method=method, json_body=protocol == "http"
            )
        else:
            await send_simple(writer, 502, b"upstream failure\n")
        return None


async def exchange(
    server: ProxyServer,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    head: Head,
    path: str,
    host_value: str,
    framing: tuple[str, int],
    conn: Upstream,
    *,
    extra_headers: list[tuple[str, str]] | None = None,
) -> tuple[bool, bool]:
    """Relay one request/response; return (client keep-alive, upstream reusable).

    ``path`` is the request target as sent upstream (origin form, or absolute form for an
    upstream proxy); ``extra_headers`` are added after the client's (e.g. proxy credentials).
    """
    up_reader, up_writer = conn
    method, _, version = head.start
    client_close = "close" in head.connection_tokens() or version == "HTTP/1.0"
    headers = [
        (k, v)
        for k, v in forward_headers(head)
        if k.lower() not in ("host", "content-length", "expect")
    ]
    headers.insert(0, ("Host", host_value))
    headers += extra_headers or []
    if framing[0] == "length":
        headers.append(("Content-Length", str(framing[1])))
    elif framing[0] == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
    expects = [v.lower() for v in head.get_all("expect")]
    if expects and framing != ("none", 0) and framing != ("length", 0):
        if expects != ["100-continue"]:
            await send_simple(writer, 417, b"unsupported Expect\n")
            return (False, False)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    try:
        up_writer.write(serialize_head((method, path, "HTTP/1.1"), headers))
        await copy_body(reader, up_writer, framing, timeout=server.body_timeout, chunked_out=True)
        while True:
            raw = await read_head(up_reader, server.body_timeout)
            if raw is None:
                raise ProtocolError("upstream closed the connection", 502)
            response = parse_head(raw, request=False)
            status = int(response.start[1])
            if status >= 200 or status == 101:
                break
    except ProtocolError as err:
        if err.status == 502 or err.status == 431:
            await send_simple(writer, 502, b"upstream failure\n")
            return (False, False)
        raise
    except (OSError, TimeoutError, ssl.SSLError):
        await send_simple(writer, 502, b"upstream failure\n")
        return (False, False)
    if method == "HEAD" or status in (204, 304) or status == 101:
        resp_framing: tuple[str, int] = ("none", 0)
        if status == 101:
            client_close = True
    else:
        try:
            resp_framing = body_framing(response, request=False)
        except ProtocolError:
            await send_simple(writer, 502, b"upstream failure\n")
            return (False, False)
    out = forward_headers(response)
    chunked_out = resp_framing[0] == "chunked" and version == "HTTP/1.1"
    if chunked_out:
        out.append(("Transfer-Encoding", "chunked"))
    if resp_framing[0] == "close" or (resp_framing[0] == "chunked" and not chunked_out):
        client_close = True
    if client_close:
        out.append(("Connection", "close"))
    writer.write(serialize_head(("HTTP/1.1", response.start[1], response.start[2]), out))
    try:
        await copy_body(
            up_reader, writer, resp_framing, timeout=server.body_timeout, chunked_out=chunked_out
        )
    except ProtocolError:
        return (False, False)
    await writer.drain()
    upstream_ok = (
        resp_framing[0] in ("length", "chunked", "none")
        and response.start[0] == "HTTP/1.1"
        and "close" not in response.connection_tokens()
        and status != 101
    )
    return (not client_close, upstream_ok)


async def _connect(
    server: ProxyServer,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    head: Head,
    client: str,
) -> None:
    authority = parse_authority(head.start[1], None)
    decision = await server.check(
        protocol="https_connect",
        host=authority.host,
        port=authority.port,
        method="CONNECT",
        client=client,
    )
    if not decision.allowed:
        await send_decision(
            writer, decision, protocol="https_connect", method="CONNECT", json_body=False
        )
        return
    if server.mitm and authority.port == 443:
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await run_inspected(server, reader, writer, decision, client)
        return
    conn = await _dial_or_answer(
        server, writer, decision, "https_connect", "CONNECT", client, server.dial(decision)
    )
    if conn is None:
        return
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await writer.drain()
    try:
        await tunnel_streams((reader, writer), conn, idle_timeout=server.tunnel_idle_timeout)
    finally:
        conn[1].close()


async def run_inspected(
    server: ProxyServer,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    decision: Decision,
    client: str,
) -> None:
    """Terminate TLS with a session leaf for the target and police every inner request."""
    assert server.ca is not None
    target = decision.host

    def sni_ok(name: str | None) -> bool:
        return name is None or _same_host(name, target)

    ctx = server.ca.server_context(target, sni_ok)
    try:
        await asyncio.wait_for(writer.start_tls(ctx), server.header_timeout)
    except (ssl.SSLError, OSError, TimeoutError, ConnectionError):
        return
    conn: Upstream | None = None
    try:
        while True:
            try:
                raw = await read_head(reader, server.header_timeout)
                if raw is None:
                    return
                head = parse_head(raw, request=True)
                method = head.start[0]
                if method == "CONNECT":
                    await send_simple(writer, 405, b"CONNECT is not allowed inside a tunnel\n")
                    return
                path = _inner_path(head, target, decision.port)
                framing = body_framing(head, request=True)
            except ProtocolError as err:
                await send_simple(writer, err.status, f"{err.message}\n".encode())
                return
            inner = await server.check(
                protocol="https_mitm", host=target, port=decision.port, method=method, client=client
            )
            if not inner.allowed:
                await send_decision(
                    writer, inner, protocol="https_mitm", method=method, json_body=False
                )
                return
            if conn is None:
                conn = await _dial_or_answer(
                    server,
                    writer,
                    decision,
                    "https_mitm",
                    method,
                    client,
                    server.dial(decision, tls=True),
                )
                if conn is None:
                    return
            host_value = _host_value(Authority(target.split("%", 1)[0], decision.port), 443)
            try:
                keep_client, keep_up = await exchange(
                    server, reader, writer, head, path, host_value, framing, conn
                )
            except ProtocolError as err:  # a malformed inner body (also reached via SOCKS5)
                await send_simple(writer, err.status, f"{err.message}\n".encode())
                return
            if not keep_up:
                conn[1].close()
                conn = None
            if not keep_client:
                return
    finally:
        if conn is not None:
            conn[1].close()


def _inner_path(head: Head, target: str, port: int) -> str:
    """Origin-form path of an inner request whose host must be the CONNECT target (A2)."""
    hosts = head.get_all("host")
    if len(hosts) > 1:
        raise ProtocolError("more than one Host header")
    request_target = head.start[1]
    named: list[str] = []
    if request_target.startswith("/"):
        path = request_target
    else:
        authority, path = parse_request_target(request_target, {"https": port})
        assert authority is not None
        named.append(authority.host)
    if hosts:
        named.append(parse_authority(hosts[0], port).host)
    if not named:
        raise ProtocolError("missing host")
    if not all(_same_host(name, target) for name in named):
        raise ProtocolError("host mismatch: the request must name the CONNECT target")
    return path
