"""SOCKS5 listener (RFC 1928): no-auth, TCP CONNECT, UDP ASSOCIATE; BIND refused.

TCP ordering (spec §5): enabled → limited-mode port guard (only 443, before host policy) → host
policy → MITM required → dial or inspect. Port 443 is inspected when MITM is on, exactly like a
CONNECT tunnel.

UDP ASSOCIATE: the request's address is the *client's* expected source, not a destination, so
no host policy runs on it. Only the association guard does
(:func:`~codex_admin.proxy.policy.udp_association_decision`): proxy disabled ⇒ general failure;
limited mode or ``enable_socks5_udp`` off (the default) ⇒ "not allowed by ruleset". Then a
:class:`~codex_admin.proxy.udp_relay.UdpAssociation` checks every destination. Associations over
the Unix-socket listener are refused with "command not supported": the relay's UDP port would
live in the proxy's network namespace, and a sandbox that reaches the proxy through that socket
has no route to it (its namespace has only its own loopback and the TCP bridge), so a
"success" would only hand it an address it cannot use.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct

from codex_admin.proxy.context import ProxyContext
from codex_admin.proxy.dial import DialError, refusal
from codex_admin.proxy.exchange import client_name
from codex_admin.proxy.mitm import run_inspected
from codex_admin.proxy.policy import Decision, udp_association_decision
from codex_admin.proxy.tunnel import tunnel_socket
from codex_admin.proxy.udp_relay import UdpAssociation, encode_address

__all__ = ["handle_socks"]

SUCCEEDED = 0x00
GENERAL_FAILURE = 0x01
NOT_ALLOWED = 0x02
HOST_UNREACHABLE = 0x04
CONNECTION_REFUSED = 0x05
COMMAND_NOT_SUPPORTED = 0x07
ADDRESS_NOT_SUPPORTED = 0x08

UDP_UNIX_REASON = "udp_unsupported_on_unix_socket"


def _reply(code: int, bound: tuple[str, int] = ("0.0.0.0", 0)) -> bytes:
    return bytes([5, code, 0]) + encode_address(*bound)


async def _greeting(reader: asyncio.StreamReader) -> int:
    """The chosen auth method (0 = none, 0xFF = none acceptable) or -1 for a non-SOCKS5 peer."""
    version, nmethods = await reader.readexactly(2)
    if version != 5:
        return -1
    methods = await reader.readexactly(nmethods)
    return 0x00 if 0 in methods else 0xFF


async def handle_socks(
    ctx: ProxyContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Serve one SOCKS5 client: handshake, then a TCP tunnel or a UDP association."""
    client = client_name(writer)
    try:
        async with asyncio.timeout(ctx.header_timeout):
            request = await _handshake(reader, writer)
    except (asyncio.IncompleteReadError, TimeoutError):
        return
    if isinstance(request, int):
        if request >= 0:
            writer.write(_reply(request))
            await writer.drain()
        return
    command, host, port = request
    protocol = "socks5_tcp"
    if command == 3:
        await _udp_associate(ctx, reader, writer, host, port, client)
        return
    if command != 1:
        writer.write(_reply(COMMAND_NOT_SUPPORTED))
        await writer.drain()
        return
    decision = await ctx.check(
        protocol=protocol, host=host, port=port, method="none", client=client
    )
    if not decision.allowed:
        code = GENERAL_FAILURE if decision.reason == "proxy_disabled" else NOT_ALLOWED
        writer.write(_reply(code))
        await writer.drain()
        return
    if ctx.mitm and port == 443:
        writer.write(_reply(SUCCEEDED))
        await writer.drain()
        await run_inspected(ctx, reader, writer, decision, client)
        return
    try:
        upstream, leftover = await ctx.dial_tunnel(decision)
    except DialError as err:
        if err.refused:
            ctx.record(refusal(decision), protocol=protocol, method="none", client=client)
        writer.write(_reply(NOT_ALLOWED if err.refused else HOST_UNREACHABLE))
        await writer.drain()
        return
    await tunnel_socket(
        (reader, writer),
        upstream,
        client_prefix=_reply(SUCCEEDED),
        upstream_leftover=leftover,
        idle_timeout=ctx.tunnel_idle_timeout,
    )


async def _udp_associate(
    ctx: ProxyContext,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    port: int,
    client: str,
) -> None:
    """Guard, bind, reply with BND.ADDR/PORT, relay until the control connection ends."""
    refused = udp_association_decision(ctx.policy, host=host, port=port)
    local = writer.get_extra_info("sockname")
    peer = writer.get_extra_info("peername")
    code = GENERAL_FAILURE
    if refused is None and not (isinstance(local, tuple) and isinstance(peer, tuple)):
        refused = Decision(
            False,
            UDP_UNIX_REASON,
            host,
            port,
            source="proxy_state",
            decision="deny",
            scope="non_domain",
        )
        code = COMMAND_NOT_SUPPORTED
    elif refused is not None and refused.reason != "proxy_disabled":
        code = NOT_ALLOWED
    if refused is not None:
        ctx.record(refused, protocol="socks5_udp", method="none", client=client)
        writer.write(_reply(code))
        await writer.drain()
        return
    association = UdpAssociation(
        ctx, peer_host=str(peer[0]), declared_host=host, declared_port=port, client=client
    )
    try:
        try:
            bound = await association.open(str(local[0]))
        except OSError:
            writer.write(_reply(GENERAL_FAILURE))
            await writer.drain()
            return
        writer.write(_reply(SUCCEEDED, bound))
        await writer.drain()
        await association.serve(reader, ctx.udp_idle_timeout)
    finally:
        await association.close()


async def _handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[int, str, int] | int:
    method = await _greeting(reader)
    if method == -1:
        return -1
    writer.write(bytes([5, method]))
    await writer.drain()
    if method == 0xFF:
        return -1
    version, command, _reserved, atyp = await reader.readexactly(4)
    if version != 5:
        return -1
    if atyp == 1:
        host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
    elif atyp == 4:
        host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
    elif atyp == 3:
        length = (await reader.readexactly(1))[0]
        raw = await reader.readexactly(length)
        try:
            host = raw.decode("utf-8")
        except UnicodeDecodeError:
            return ADDRESS_NOT_SUPPORTED
        if not host:
            return ADDRESS_NOT_SUPPORTED
    else:
        return ADDRESS_NOT_SUPPORTED
    (port,) = struct.unpack("!H", await reader.readexactly(2))
    if port == 0 and command == 1:
        return GENERAL_FAILURE
    return (command, host, port)
