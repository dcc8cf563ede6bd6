"""SOCKS5 UDP ASSOCIATE relay (RFC 1928 §7), policy-checked per destination.

One :class:`UdpAssociation` per admitted ASSOCIATE request (the association guard and the
reply live in :mod:`.socks5`). Why it is shaped this way:

* **Who may use it.** The client-facing socket is bound on the control connection's local
  address (loopback) and accepts datagrams only from the control connection's peer IP, and
  only from one source port: the one the client declared in its request, else (RFC 1928's
  ``0.0.0.0:0``) the first one seen. A client that declares its port cannot be hijacked; one
  that does not can lose its association to another local process that sends first, which
  gains nothing it could not get from its own ASSOCIATE (the same policy applies to it).
* **Where datagrams may go.** UDP names no host, so each destination ``(ip, port)`` goes
  through :func:`~codex_admin.proxy.policy.decide` (``protocol="socks5_udp"``) once per
  association, then through the connect-time guard
  :func:`~codex_admin.proxy.policy.dial_permitted` for the address actually sent to. The
  verdict is cached: the audit log gets one event per destination, not one per datagram.
  Domain-name destinations are refused (only IP-literal rules can allow UDP, spec §7.6) and so
  are fragments (``FRAG != 0``: no reassembly, so nothing to inspect). UDP has no error channel,
  so a refused datagram is dropped silently; the audit log says why.
* **What may come back.** Upstream sockets are unconnected (one per address family, created on
  first use) and a reply is relayed only from an ``(ip, port)`` this association has sent to
  and was allowed to: no unsolicited inbound traffic reaches the client.
* **Bounded.** At most :data:`MAX_DESTINATIONS` distinct destinations per association (beyond:
  dropped, audited once), a bounded queue of datagrams waiting for their first policy check,
  no buffering while the kernel pushes back, an idle timeout, and every socket closed when the
  control connection ends or the proxy stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
from collections.abc import Callable
from typing import Any, cast

from codex_admin.proxy.context import ProxyContext
from codex_admin.proxy.dial import refusal
from codex_admin.proxy.hosts import HostError, ip_literal, normalize_host
from codex_admin.proxy.policy import Decision, dial_permitted

__all__ = [
    "DESTINATION_LIMIT_REASON",
    "MAX_DESTINATIONS",
    "UdpAssociation",
    "encode_address",
]

MAX_DESTINATIONS = 256
"""Distinct ``(destination, port)`` verdicts one association may hold."""
DESTINATION_LIMIT_REASON = "udp_destination_limit"
_PENDING_LIMIT = 256  # datagrams waiting for a destination's first policy check

Address = tuple[str, int]
OnDatagram = Callable[[bytes, tuple[Any, ...]], None]


def encode_address(host: str, port: int) -> bytes:
    """SOCKS5 ``ATYP ADDR PORT`` for an IP-literal host (zone dropped)."""
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    atyp = 1 if ip.version == 4 else 4
    return bytes([atyp]) + ip.packed + struct.pack("!H", port)


def _canonical(host: str) -> str | None:
    """The policy's canonical spelling of an IP (``::ffff:a.b.c.d`` -> ``a.b.c.d``), or None."""
    try:
        text = normalize_host(host)
    except HostError:
        return None
    return text if ip_literal(text) is not None else None


def _source_key(addr: object) -> Address | None:
    if not isinstance(addr, tuple) or len(addr) < 2:
        return None
    host = _canonical(str(addr[0]))
    return None if host is None else (host, int(addr[1]))


def _parse(data: bytes) -> tuple[int, str, int, bytes] | None:
    """``(atyp, host, port, payload)`` of a client datagram, or None if malformed/fragmented."""
    if len(data) < 4 or data[0] or data[1] or data[2]:
        return None  # RSV must be zero; FRAG != 0 is a fragment we do not reassemble
    atyp = data[3]
    if atyp == 1:
        end = 8
        host = str(ipaddress.IPv4Address(data[4:end])) if len(data) >= end else ""
    elif atyp == 4:
        end = 20
        host = str(ipaddress.IPv6Address(data[4:end])) if len(data) >= end else ""
    elif atyp == 3 and len(data) > 4 and data[4]:
        end = 5 + data[4]
        host = data[5:end].decode("utf-8", "backslashreplace") if len(data) >= end else ""
    else:
        return None
    if not host or len(data) < end + 2:
        return None
    (port,) = struct.unpack("!H", data[end : end + 2])
    return atyp, host, port, data[end + 2 :]


class _Side(asyncio.DatagramProtocol):
    """One UDP socket. While the kernel pushes back (asyncio paused us), datagrams are dropped
    rather than buffered without bound, which is what a congested UDP path does anyway."""

    def __init__(self, on_datagram: OnDatagram) -> None:
        self._on_datagram = on_datagram
        self._paused = False
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not a DatagramTransport subclass on 3.11, but it is one in behaviour.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False

    def send(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if self.transport is not None and not self._paused:
            self.transport.sendto(data, addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        """ICMP errors (port unreachable…) have no SOCKS5 channel back: ignored."""


class UdpAssociation:
    """The sockets and verdicts of one UDP ASSOCIATE, alive while its control connection is."""

    def __init__(
        self,
        ctx: ProxyContext,
        *,
        peer_host: str,
        declared_host: str,
        declared_port: int,
        client: str,
    ) -> None:
        self._ctx = ctx
        self._client = client
        self._peer = _canonical(peer_host)
        declared = _canonical(declared_host)  # None for 0.0.0.0 / :: / a name
        self._expect_host = declared
        self._expect_port = declared_port or None
        self._client_key: Address | None = None  # locked client source, canonical
        self._client_addr: tuple[Any, ...] | None = None  # the same, as sendto wants it
        self._client_side: _Side | None = None
        self._upstream: dict[int, _Side] = {}
        self._verdicts: dict[Address, Address | None] = {}  # destination -> sendto target
        self._refused_names: set[Address] = set()  # domain-name destinations, audited once
        self._repliers: set[Address] = set()
        self._pending: asyncio.Queue[tuple[str, int, bytes]] = asyncio.Queue(_PENDING_LIMIT)
        self._limit_reported = False
        self._last_activity = asyncio.get_running_loop().time()
        self.address: Address = ("", 0)

    async def open(self, local_host: str) -> Address:
        """Bind the client-facing socket on ``local_host`` port 0; returns its address."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in local_host else socket.AF_INET
        transport, side = await loop.create_datagram_endpoint(
            lambda: _Side(self._from_client), local_addr=(local_host, 0), family=family
        )
        self._client_side = side
        name = transport.get_extra_info("sockname")
        self.address = (str(name[0]), int(name[1]))
        return self.address

    async def serve(self, control: asyncio.StreamReader, idle_timeout: float) -> None:
        """Relay until the control connection reaches EOF or ``idle_timeout`` passes quietly.

        The policy worker is watched too: if it fails, the association ends at once (and the
        error surfaces) instead of silently swallowing datagrams into a dead queue.
        """
        loop = asyncio.get_running_loop()
        worker = asyncio.ensure_future(self._check_pending())
        read: asyncio.Task[bytes] | None = None
        try:
            while True:
                remaining = self._last_activity + idle_timeout - loop.time()
                if remaining <= 0:
                    return
                if read is None:
                    # Anything the client sends on the control connection is discarded.
                    read = asyncio.ensure_future(control.read(4096))
                watched: set[asyncio.Future[Any]] = {read, worker}
                done, _ = await asyncio.wait(
                    watched, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                if worker in done:
                    worker.result()  # re-raises the worker's failure
                    return
                if read in done:
                    if not read.result():
                        return
                    read = None
        finally:
            for task in (read, worker):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def close(self) -> None:
        """Close every socket; a loop turn lets the transports really release them."""
        sides = [s for s in (self._client_side, *self._upstream.values()) if s is not None]
        self._client_side = None
        self._upstream.clear()
        for side in sides:
            side.close()
        if sides:
            await asyncio.sleep(0)

    # -- client -> upstream ------------------------------------------------------------
    def _from_client(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if not self._accept_source(addr):
            return
        parsed = _parse(data)
        if parsed is None:
            return
        atyp, host, port, payload = parsed
        if port == 0:
            return
        self._last_activity = asyncio.get_running_loop().time()
        if atyp == 3:
            # Even a name spelling an IP literal is refused (a key space of its own, so it
            # never meets an allowed IP's verdict): only IP destinations are checked.
            name = (host, port)
            if name not in self._refused_names and self._admit_destination(name):
                self._refused_names.add(name)
                denied = Decision(False, "not_allowed", host, port, decision="deny")
                self._record(denied)
            return
        key = (_canonical(host) or host, port)
        if key in self._verdicts:
            target = self._verdicts[key]
            if target is not None:
                self._send(target, payload)
            return
        with contextlib.suppress(asyncio.QueueFull):
            self._pending.put_nowait((host, port, payload))

    def _accept_source(self, addr: tuple[Any, ...]) -> bool:
        key = _source_key(addr)
        if key is None:
            return False
        if self._client_key is not None:
            return key == self._client_key
        if key[0] != self._peer or (self._expect_host not in (None, key[0])):
            return False
        if self._expect_port is not None and key[1] != self._expect_port:
            return False
        self._client_key, self._client_addr = key, addr
        return True

    def _admit_destination(self, key: Address) -> bool:
        if len(self._verdicts) + len(self._refused_names) < MAX_DESTINATIONS:
            return True
        if not self._limit_reported:
            self._limit_reported = True
            refused = Decision(
                False,
                DESTINATION_LIMIT_REASON,
                key[0],
                key[1],
                source="proxy_state",
                decision="deny",
                scope="non_domain",
            )
            self._record(refused)
        return False

    async def _check_pending(self) -> None:
        while True:
            host, port, payload = await self._pending.get()
            key = (_canonical(host) or host, port)
            if key not in self._verdicts:
                if not self._admit_destination(key):
                    continue
                self._verdicts[key] = await self._verdict(host, port)
            target = self._verdicts[key]
            if target is not None and await self._ensure_upstream(target):
                self._send(target, payload)

    async def _ensure_upstream(self, target: Address) -> bool:
        """Create the unconnected upstream socket for the target's family on first use."""
        family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
        if family in self._upstream:
            return True
        try:
            _, side = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: _Side(self._from_upstream), family=family
            )
        except OSError:
            return False  # no such family here, or out of descriptors: the datagram is lost
        self._upstream[family] = side
        return True

    def _record(self, decision: Decision) -> None:
        self._ctx.record(decision, protocol="socks5_udp", method="none", client=self._client)

    async def _verdict(self, host: str, port: int) -> Address | None:
        decision = await self._ctx.check(
            protocol="socks5_udp", host=host, port=port, method="none", client=self._client
        )
        if not decision.allowed:
            return None
        address = decision.addresses[0] if decision.addresses else decision.host
        if not dial_permitted(self._ctx.policy, decision.host, address):
            self._record(refusal(decision))
            return None
        target = (address, port)
        key = _source_key(target)
        if key is not None:
            self._repliers.add(key)
        return target

    def _send(self, target: Address, payload: bytes) -> None:
        side = self._upstream.get(socket.AF_INET6 if ":" in target[0] else socket.AF_INET)
        if side is not None:
            side.send(payload, target)

    # -- upstream -> client ------------------------------------------------------------
    def _from_upstream(self, data: bytes, addr: tuple[Any, ...]) -> None:
        key = _source_key(addr)
        client = self._client_side
        if key is None or key not in self._repliers or client is None or not self._client_addr:
            return
        self._last_activity = asyncio.get_running_loop().time()
        client.send(b"\x00\x00\x00" + encode_address(*key) + data, self._client_addr)
