"""Inspected HTTPS: terminate TLS with a session leaf and police every inner request (spec §7.3).

Entered from an admitted ``CONNECT host:443`` (:mod:`.http_handler`) or SOCKS5 TCP to port 443
(:mod:`.socks5`) when inspection is on. Per inner request, in order:

1. ``CONNECT`` inside the tunnel ⇒ 405 (A19);
2. the request must name the CONNECT target (absolute-form authority and ``Host``), else 400
   (A2: no domain fronting through an admitted tunnel); a ClientHello whose SNI names another
   host is refused during the handshake;
3. the policy runs again (``protocol="https_mitm"``): only the local/private re-check can block
   a host already admitted (DNS rebinding between CONNECT and request), and in limited mode the
   method clamp and the upload guard (no body on a read-only method, no method override) apply;
4. forward to the CONNECT target over verified TLS, with ``Host`` rewritten to it.
"""

from __future__ import annotations

import asyncio
import ssl

from codex_admin.proxy.context import ProxyContext
from codex_admin.proxy.dial import Streams
from codex_admin.proxy.exchange import dial_or_answer, exchange, host_value, same_host
from codex_admin.proxy.http1 import (
    Authority,
    Head,
    ProtocolError,
    body_framing,
    parse_authority,
    parse_head,
    parse_request_target,
)
from codex_admin.proxy.policy import Decision, RequestShape
from codex_admin.proxy.responses import send_decision, send_simple
from codex_admin.proxy.streams import Deadline, read_head

__all__ = ["run_inspected"]


async def run_inspected(
    ctx: ProxyContext,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    decision: Decision,
    client: str,
) -> None:
    """Terminate TLS for ``decision``'s target and relay its inner requests one by one."""
    target = decision.host

    def sni_ok(name: str | None) -> bool:
        return name is None or same_host(name, target)

    tls = ctx.inspection_context(target, sni_ok)
    try:
        async with asyncio.timeout(ctx.header_timeout):
            await writer.start_tls(tls)
    except (ssl.SSLError, OSError, TimeoutError, ConnectionError):
        return
    conn: Streams | None = None
    host = host_value(Authority(target.split("%", 1)[0], decision.port), 443)
    deadline = Deadline()
    try:
        while True:
            try:
                raw = await read_head(reader, ctx.header_timeout, deadline)
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
            inner = await ctx.check(
                protocol="https_mitm",
                host=target,
                port=decision.port,
                method=method,
                client=client,
                request=RequestShape(head, framing),
            )
            if not inner.allowed:
                await send_decision(
                    writer, inner, protocol="https_mitm", method=method, json_body=False
                )
                return
            if conn is None:
                conn = await dial_or_answer(
                    ctx,
                    writer,
                    decision,
                    "https_mitm",
                    method,
                    client,
                    ctx.dial(decision, tls=True),
                )
                if conn is None:
                    return
            try:
                keep_client, keep_up = await exchange(
                    ctx, reader, writer, head, path, host, framing, conn, deadline=deadline
                )
            except ProtocolError as err:  # a malformed inner body
                await send_simple(writer, err.status, f"{err.message}\n".encode())
                return
            if not keep_up:
                conn[1].close()
                conn = None
            if not keep_client:
                return
    finally:
        deadline.close()
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
        if authority is None:
            raise ProtocolError("missing host")
        named.append(authority.host)
    if hosts:
        named.append(parse_authority(hosts[0], port).host)
    if not named:
        raise ProtocolError("missing host")
    if not all(same_host(name, target) for name in named):
        raise ProtocolError("host mismatch: the request must name the CONNECT target")
    return path
