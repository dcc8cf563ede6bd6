"""HTTP/1.1 listener: absolute-form forwarding and CONNECT tunnels.

Ordering follows spec §5 and §7: parse strictly (400/431) → Host agreement (400) → enabled
(503) → host policy (403) → limited-mode method and upload guard (403) → forward. CONNECT:
authority with an explicit port (400) → enabled → mode guard (limited: port 443 only) → host
policy → MITM required → tunnel (:mod:`.tunnel`) or inspect (:mod:`.mitm`).
"""

from __future__ import annotations

import asyncio

from codex_admin.proxy.context import ProxyContext
from codex_admin.proxy.dial import Streams
from codex_admin.proxy.exchange import client_name, dial_or_answer, exchange, host_value, same_host
from codex_admin.proxy.http1 import (
    Authority,
    Head,
    ProtocolError,
    body_framing,
    parse_authority,
    parse_head,
    parse_request_target,
)
from codex_admin.proxy.mitm import run_inspected
from codex_admin.proxy.policy import RequestShape
from codex_admin.proxy.responses import send_decision, send_simple
from codex_admin.proxy.streams import read_head
from codex_admin.proxy.tunnel import tunnel_streams
from codex_admin.proxy.upstream import UpstreamProxy

__all__ = ["handle_http"]

# Plain-HTTP keep-alive upstreams per (host, port), with the upstream proxy they go through.
Pool = dict[tuple[str, int], tuple[Streams, UpstreamProxy | None]]

_ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"


async def handle_http(
    ctx: ProxyContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Serve one client connection: keep-alive plain requests, or one CONNECT."""
    client = client_name(writer)
    upstream: Pool = {}
    try:
        while True:
            try:
                raw = await read_head(reader, ctx.header_timeout)
                if raw is None:
                    return
                head = parse_head(raw, request=True)
                if head.start[0] == "CONNECT":
                    await _connect(ctx, reader, writer, head, client)
                    return
                if not await _plain(ctx, reader, writer, head, client, upstream):
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
        if not same_host(given.host, authority.host) or given.port != authority.port:
            raise ProtocolError("Host header does not match request target")
    return authority, path


async def _plain(
    ctx: ProxyContext,
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
    decision = await ctx.check(
        protocol="http",
        host=authority.host,
        port=authority.port,
        method=method,
        client=client,
        request=RequestShape(head, framing),
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
        cached = await dial_or_answer(
            ctx, writer, decision, "http", method, client, ctx.dial_http(decision)
        )
        if cached is None:
            return False
    conn, via = cached
    host = head.get("host") or host_value(authority, 80)
    # Through an upstream HTTP proxy the request goes in absolute form with its credentials,
    # naming the host exactly as the policy checked it (not the client's spelling).
    checked = Authority(decision.host.split("%", 1)[0], authority.port)
    target = path if via is None else f"http://{host_value(checked, 80)}{path}"
    extra = [] if via is None else via.headers()
    keep_client, keep_upstream = await exchange(
        ctx, reader, writer, head, target, host, framing, conn, extra_headers=extra
    )
    if keep_upstream:
        upstream[key] = cached
    else:
        conn[1].close()
    return keep_client


async def _connect(
    ctx: ProxyContext,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    head: Head,
    client: str,
) -> None:
    authority = parse_authority(head.start[1], None)
    decision = await ctx.check(
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
    if ctx.mitm and authority.port == 443:
        writer.write(_ESTABLISHED)
        await writer.drain()
        await run_inspected(ctx, reader, writer, decision, client)
        return
    conn = await dial_or_answer(
        ctx, writer, decision, "https_connect", "CONNECT", client, ctx.dial(decision)
    )
    if conn is None:
        return
    writer.write(_ESTABLISHED)
    await writer.drain()
    try:
        await tunnel_streams((reader, writer), conn, idle_timeout=ctx.tunnel_idle_timeout)
    finally:
        conn[1].close()
