"""Opening the upstream leg of an allowed request: pinned, guarded, optionally chained.

Direct dials go only to the addresses the policy already checked (no second DNS lookup, so a
rebinding resolver gets no second chance, attack A6) and re-check each address right before
``connect()`` with :func:`~codex_admin.proxy.policy.dial_permitted` (spec §8.3). When the
policy opted into chaining (:mod:`.upstream`), tunnels go through the organisation's proxy with
``CONNECT`` and plain HTTP is sent to it in absolute form; the connect-time guard cannot run on
the far side of someone else's proxy, which is why chaining is opt-in.

The client TLS context for inspected HTTPS is built on first use only: loading the system trust
store costs tens of milliseconds, and most proxies (and every sandbox start-up) never need it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import TypeVar

from codex_admin.proxy.policy import Decision, NetworkPolicy, dial_permitted
from codex_admin.proxy.tunnel import detach
from codex_admin.proxy.upstream import UpstreamError, UpstreamProxy, UpstreamRoutes, open_tunnel

__all__ = [
    "UPSTREAM_BUFFER",
    "DialError",
    "Dialer",
    "Streams",
    "connect_socket",
    "refusal",
]

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Dialled = TypeVar("Dialled")

# Upstream reads buffer up to this much before pausing the socket (throughput for tunnels);
# response heads are still capped at MAX_HEAD_BYTES by the parser.
UPSTREAM_BUFFER = 1 << 20
_NONBLOCK: int = getattr(socket, "SOCK_NONBLOCK", 0)


class DialError(Exception):
    """No checked address could be connected to; ``refused`` when the guard vetoed them all.

    A refused dial is reported like a policy block (:func:`refusal` builds that decision);
    any other failure is an upstream failure (502, or SOCKS5 "host unreachable").
    """

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


def refusal(decision: Decision) -> Decision:
    """The block to report and audit when the connect-time guard vetoed every address."""
    return Decision(False, "not_allowed_local", decision.host, decision.port, decision="deny")


async def connect_socket(address: str, port: int, timeout: float) -> socket.socket:
    """A non-blocking TCP socket connected to the IP literal ``address`` within ``timeout``.

    ``loop.sock_connect`` would do, but uvloop's resolves even an IP literal through
    ``getaddrinfo`` on its thread pool (a thread hand-off per tunnel); a non-blocking
    ``connect`` plus one writability wait, bounded by one timer, is all a checked address
    needs. Raises OSError (TimeoutError when the handshake takes too long).

    The socket may come back with a reader registered on the running loop (see below): its
    new owner replaces that registration or calls ``loop.remove_reader`` before closing it
    (:func:`~codex_admin.proxy.tunnel.tunnel_transport` does).
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    # Non-blocking from socket(2) itself where the flag exists (Linux): no extra ioctl.
    sock = socket.socket(family, socket.SOCK_STREAM | _NONBLOCK)
    try:
        if not _NONBLOCK:
            sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.connect((address, port))
        except BlockingIOError:  # EINPROGRESS: the handshake is under way
            # ... or already over: on loopback (a sandbox's local services, a chained proxy
            # on this machine) the kernel completes it inside connect(). One more connect()
            # says so (0 once connected, EALREADY while under way), which spares a loop
            # registration, a future, a timer and a loop turn per tunnel.
            error = sock.connect_ex((address, port))
            if error in (0, errno.EISCONN):
                return sock
            if error not in (errno.EALREADY, errno.EINPROGRESS):
                raise OSError(error, os.strerror(error)) from None
            loop = asyncio.get_running_loop()
            writable: asyncio.Future[bool] = loop.create_future()
            loop.add_writer(sock.fileno(), _resolve, writable, True)
            timer = loop.call_later(timeout, _resolve, writable, False)
            try:
                if not await writable:
                    raise TimeoutError(f"no answer within {timeout:g} s")
                error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    raise OSError(error, os.strerror(error)) from None
                # Park a reader before dropping the writer: the tunnel registers its own
                # reader on this descriptor next, without an await in between, and with
                # uvloop an unbroken registration keeps its poll handle (a new one costs
                # five epoll_ctl calls and an ioctl). The parked callback only unregisters.
                # (uvloop refuses a handle an error already closed: then there is none.)
                with contextlib.suppress(RuntimeError):
                    loop.add_reader(sock.fileno(), loop.remove_reader, sock.fileno())
            finally:
                timer.cancel()
                loop.remove_writer(sock.fileno())
    except BaseException:
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            asyncio.get_running_loop().remove_reader(sock.fileno())
        sock.close()
        raise
    return sock


def _resolve(future: asyncio.Future[bool], connected: bool) -> None:
    if not future.done():
        future.set_result(connected)


def _tls_name(host: str) -> str:
    return host.split("%", 1)[0]


class Dialer:
    """Dials for one proxy: its policy, its upstream routes, one lazily built TLS context.

    ``upstream`` may be replaced once the listeners are bound (a route pointing back at this
    proxy is dropped then).
    """

    def __init__(
        self,
        policy: NetworkPolicy,
        upstream: UpstreamRoutes,
        *,
        connect_timeout: float,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.policy = policy
        self.upstream = upstream
        self.connect_timeout = connect_timeout
        self._tls_context = tls_context

    @property
    def tls_context(self) -> ssl.SSLContext:
        """The context that verifies upstream servers (system trust store unless given)."""
        if self._tls_context is None:
            self._tls_context = ssl.create_default_context()
        return self._tls_context

    async def dial(self, decision: Decision, *, tls: bool = False) -> Streams:
        """Open the upstream leg of a tunnel (or of inspected HTTPS when ``tls``).

        Direct: connect to one of the decision's checked addresses, re-checking each first.
        Through an upstream proxy: ``CONNECT`` to the target name there, then TLS inside.
        """
        route = self.upstream.for_tunnel(decision.host)
        if route is None:
            return await self._direct(decision, tls=tls)
        server_hostname = _tls_name(decision.host)
        try:
            reader, writer = await open_tunnel(
                route,
                server_hostname,
                decision.port,
                timeout=self.connect_timeout,
                limit=UPSTREAM_BUFFER,
            )
        except (OSError, TimeoutError, UpstreamError) as err:
            raise DialError(f"upstream proxy {route.display()}: {err}") from None
        if tls:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    await writer.start_tls(self.tls_context, server_hostname=server_hostname)
            except (OSError, TimeoutError, ssl.SSLError) as err:
                writer.close()
                raise DialError(f"TLS through {route.display()}: {err}") from None
        return reader, writer

    async def dial_tunnel(self, decision: Decision) -> tuple[socket.socket, bytes]:
        """The upstream end of an opaque tunnel: a connected socket and any bytes already read.

        Direct tunnels never get an asyncio transport (it would only be torn down again for
        the splice relay): a non-blocking socket is connected to a checked address.
        """
        if self.upstream.for_tunnel(decision.host) is not None:
            reader, writer = await self.dial(decision)
            try:
                return await detach(reader, writer)
            finally:
                writer.close()
        port, timeout = decision.port, self.connect_timeout
        return await self._each_address(decision, lambda a: connect_socket(a, port, timeout)), b""

    async def dial_http(self, decision: Decision) -> tuple[Streams, UpstreamProxy | None]:
        """Open a connection for plain HTTP: to the target, or to the upstream HTTP proxy.

        When the second item is a proxy, requests must be sent in absolute form with its
        ``Proxy-Authorization`` header.
        """
        route = self.upstream.for_plain_http(decision.host)
        if route is None:
            return await self._direct(decision, tls=False), None
        try:
            async with asyncio.timeout(self.connect_timeout):
                conn = await asyncio.open_connection(route.host, route.port, limit=UPSTREAM_BUFFER)
        except (OSError, TimeoutError) as err:
            raise DialError(f"upstream proxy {route.display()}: {err}") from None
        return conn, route

    async def _direct(self, decision: Decision, *, tls: bool) -> Streams:
        async def connect(address: str) -> Streams:
            async with asyncio.timeout(self.connect_timeout):
                if not tls:
                    return await asyncio.open_connection(
                        address, decision.port, limit=UPSTREAM_BUFFER
                    )
                return await asyncio.open_connection(
                    address,
                    decision.port,
                    limit=UPSTREAM_BUFFER,
                    ssl=self.tls_context,
                    server_hostname=_tls_name(decision.host),
                )

        return await self._each_address(decision, connect)

    async def _each_address(
        self, decision: Decision, connect: Callable[[str], Awaitable[Dialled]]
    ) -> Dialled:
        """``connect`` to the first checked address that the connect-time guard permits and
        that answers within the timeout ``connect`` enforces (A6: only addresses the policy
        checked are tried)."""
        errors: list[str] = []
        vetoed = 0
        for address in decision.addresses:
            if not dial_permitted(self.policy, decision.host, address):
                vetoed += 1
                continue
            try:
                return await connect(address)
            except (OSError, TimeoutError, ssl.SSLError) as err:
                errors.append(f"{address}: {err or type(err).__name__}")
        if vetoed and not errors:
            raise DialError("network target rejected by policy", refused=True)
        raise DialError("; ".join(errors) or f"no address for {decision.host}")
