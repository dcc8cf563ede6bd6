"""HTTP/1.1 listener with streams: absolute-form forwarding and CONNECT tunnels.

Ordering follows spec §5 and §7: parse strictly (400/431) → Host agreement (400) → enabled
(503) → host policy (403) → limited-mode method and upload guard (403) → forward. CONNECT:
authority with an explicit port (400) → enabled → mode guard (limited: port 443 only) → host
policy → MITM required → tunnel (:mod:`.connect`) or inspect (:mod:`.mitm`).

A connection reaches this handler from the listener's intake (:mod:`.intake`), which has
already answered the usual opaque CONNECT itself; here come plain HTTP, inspected CONNECTs,
heads the strict parser refuses, and CONNECTs after plain requests on one connection.
"""

from __future__ import annotations

import asyncio
from typing import cast

from codex_admin.proxy.connect import ESTABLISHED, check_connect, refusal_answer, serve_connect
from codex_admin.proxy.context import ProxyContext
from codex_admin.proxy.exchange import (
    StaleUpstream,
    client_name,
    dial_or_answer,
    exchange,
    host_value,
    same_host,
)
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
from codex_admin.proxy.policy import SAFE_METHODS, RequestShape
from codex_admin.proxy.responses import send_decision, send_simple
from codex_admin.proxy.streams import Deadline, read_head
from codex_admin.proxy.tunnel import take_buffered

__all__ = ["handle_http"]


async def handle_http(
    ctx: ProxyContext,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    first_head_timeout: float | None = None,
) -> None:
    """Serve one client connection: keep-alive plain requests, or one CONNECT.

    ``first_head_timeout``: what is left of the header timeout for the first head (the
    intake, :mod:`.intake`, has already waited for its first bytes).
    """
    client = client_name(writer)
    deadline = Deadline()
    timeout = ctx.header_timeout if first_head_timeout is None else first_head_timeout
    try:
        while True:
            try:
                raw = await read_head(reader, timeout, deadline)
                timeout = ctx.header_timeout
                if raw is None:
                    return
                head = parse_head(raw, request=True)
                if head.start[0] == "CONNECT":
                    await _connect(ctx, reader, writer, head, client)
                    return
                if not await _plain(ctx, reader, writer, head, client, deadline):
                    return
            except ProtocolError as err:
                await send_simple(writer, err.status, f"{err.message}\n".encode())
                return
            except TimeoutError:
                return
    finally:
        deadline.close()


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
    deadline: Deadline,
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
    host = head.get("host") or host_value(authority, 80)
    # A safe request without a body may be retried once on a fresh connection if a pooled
    # one turns out to have been closed by the upstream (nothing reached the client yet).
    retry = method in SAFE_METHODS and framing in (("none", 0), ("length", 0))
    pooled = ctx.upstream_pool.take(key)
    while True:
        conn = pooled or await dial_or_answer(
            ctx, writer, decision, "http", method, client, ctx.dial_http(decision)
        )
        if conn is None:
            return False
        (_, up_writer), via = conn
        # Through an upstream HTTP proxy the request goes in absolute form with its
        # credentials, naming the host exactly as the policy checked it (not the client's).
        checked = Authority(decision.host.split("%", 1)[0], authority.port)
        target = path if via is None else f"http://{host_value(checked, 80)}{path}"
        reusable = False
        try:
            keep_client, reusable = await exchange(
                ctx,
                reader,
                writer,
                head,
                target,
                host,
                framing,
                conn[0],
                extra_headers=[] if via is None else via.headers(),
                stale_ok=pooled is not None and retry,
                deadline=deadline,
            )
        except StaleUpstream:
            pooled = None
            continue
        finally:
            if reusable:
                ctx.upstream_pool.give(key, conn)
            else:
                up_writer.close()
        return keep_client


async def _connect(
    ctx: ProxyContext,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    head: Head,
    client: str,
) -> None:
    authority = parse_authority(head.start[1], None)
    if not (ctx.mitm and authority.port == 443):
        transport = cast(asyncio.Transport, writer.transport)
        transport.pause_reading()  # what the reader holds now is all that reached us
        leftover = take_buffered(reader)
        await serve_connect(
            ctx, transport, authority, client, leftover=leftover, eof=reader.at_eof()
        )
        return
    decision = await check_connect(ctx, authority, client)
    if not decision.allowed:
        writer.write(refusal_answer(decision))
        await writer.drain()
        return
    writer.write(ESTABLISHED)
    await writer.drain()
    await run_inspected(ctx, reader, writer, decision, client)
