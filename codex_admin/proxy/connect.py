"""One opaque ``CONNECT``, answered on the client's transport: check, dial, tunnel.

Both ways a CONNECT reaches the proxy end here: straight from the HTTP listener's intake
(:mod:`.intake`, the usual case, where the client never gets asyncio streams) and from the
stream handler (:mod:`.http_handler`, a CONNECT after plain requests on one connection). The
inspected kind (port 443 with the session CA) needs streams and stays in the stream handler.
Ordering follows spec §7: host policy (403) → dial (403 for a vetoed address, else 502) →
``200 Connection established`` and the tunnel.
"""

from __future__ import annotations

import asyncio

from codex_admin.proxy.context import ProxyContext
from codex_admin.proxy.dial import DialError
from codex_admin.proxy.exchange import dial_failure_answer
from codex_admin.proxy.http1 import Authority
from codex_admin.proxy.policy import Decision
from codex_admin.proxy.responses import decision_answer
from codex_admin.proxy.tunnel import tunnel_transport

__all__ = ["ESTABLISHED", "check_connect", "refusal_answer", "serve_connect"]

ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"


async def check_connect(ctx: ProxyContext, authority: Authority, client: str) -> Decision:
    """The policy's (audited) decision on a CONNECT to ``authority``, inspected or not."""
    return await ctx.check(
        protocol="https_connect",
        host=authority.host,
        port=authority.port,
        method="CONNECT",
        client=client,
    )


def refusal_answer(decision: Decision) -> bytes:
    """The answer to a refused CONNECT: 403 (or the decision's status) with one line."""
    return decision_answer(decision, protocol="https_connect", method="CONNECT", json_body=False)


async def serve_connect(
    ctx: ProxyContext,
    transport: asyncio.Transport,
    authority: Authority,
    client: str,
    *,
    leftover: bytes = b"",
    eof: bool = False,
) -> None:
    """Answer one opaque CONNECT to ``authority`` and run its tunnel until it ends.

    ``leftover`` are client bytes read past the request head (a pipelined TLS ClientHello);
    ``eof``: the client already half-closed. The transport's reading must be paused (nothing
    past ``leftover`` delivered) until the tunnel starts. A refusal is written to the
    transport; closing it is the caller's (the tunnel closes it itself).
    """
    decision = await check_connect(ctx, authority, client)
    if not decision.allowed:
        transport.write(refusal_answer(decision))
        return
    try:
        upstream, upstream_leftover = await ctx.dial_tunnel(decision)
    except DialError as err:
        transport.write(dial_failure_answer(ctx, err, decision, "https_connect", "CONNECT", client))
        return
    await tunnel_transport(
        transport,
        upstream,
        client_prefix=ESTABLISHED,
        upstream_leftover=upstream_leftover,
        client_leftover=leftover,
        client_eof=eof,
        idle_timeout=ctx.tunnel_idle_timeout,
    )
