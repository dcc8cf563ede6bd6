"""What a connection handler may use of the running proxy: the narrow :class:`ProxyContext`.

The protocol handlers (:mod:`.http_handler`, :mod:`.mitm`, :mod:`.socks5`, :mod:`.udp_relay`)
are written against this structural type, not against :class:`~.server.ProxyServer`, so the
server imports its handlers and no handler imports the server: the dependency runs one way.
A handler can ask for a policy decision (audited), record a decision it took itself, dial the
checked addresses of an allowed decision, and get the TLS server context for an inspected
target; it cannot touch listeners, tasks or the CA key.

Module map of the package, leaves first: ``hosts`` → ``patterns`` → ``resolver`` → ``policy``
→ ``audit`` → ``http1`` → ``streams`` → ``upstream`` → ``tunnel`` → ``dial`` → ``context`` →
``responses`` → ``exchange`` → ``connect`` → ``mitm`` → ``http_handler`` / ``udp_relay`` →
``socks5`` → ``server``; ``intake`` (the HTTP listener's first read, on ``http1`` only) feeds
``server``; ``pool`` (idle upstream connections) sits beside ``dial``; ``ca``, ``env``,
``netconfig``, ``check``, ``decider`` and ``eventloop`` hang off the side.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Protocol

from codex_admin.proxy.dial import Streams
from codex_admin.proxy.policy import Decision, NetworkPolicy, RequestShape
from codex_admin.proxy.pool import UpstreamPool
from codex_admin.proxy.upstream import UpstreamProxy

__all__ = ["ProxyContext", "SniCheck"]

SniCheck = Callable[[str | None], bool]
"""Accepts (True) or refuses the SNI name of an inspected client's ClientHello."""


class ProxyContext(Protocol):
    """The server as its connection handlers see it (see the module docstring)."""

    @property
    def policy(self) -> NetworkPolicy:
        """The effective network policy (read-only for handlers)."""
        ...

    @property
    def mitm(self) -> bool:
        """Whether HTTPS on port 443 is inspected (the session CA exists)."""
        ...

    @property
    def header_timeout(self) -> float:
        """Seconds a peer may take to send a complete message head (or a SOCKS5 handshake)."""
        ...

    @property
    def body_timeout(self) -> float:
        """Seconds a body read or an upstream response may stall."""
        ...

    @property
    def tunnel_idle_timeout(self) -> float | None:
        """Seconds an opaque tunnel may stay silent both ways (None: no limit)."""
        ...

    @property
    def udp_idle_timeout(self) -> float:
        """Seconds a SOCKS5 UDP association may go without datagrams."""
        ...

    @property
    def upstream_pool(self) -> UpstreamPool:
        """Idle plain-HTTP upstream connections shared by this proxy's clients."""
        ...

    async def check(
        self,
        *,
        protocol: str,
        host: str,
        port: int,
        method: str,
        client: str,
        request: RequestShape | None = None,
    ) -> Decision:
        """Run the policy for one request and audit the decision (allows included).

        ``request`` (an HTTP request's head and framing) feeds limited mode's upload guard.
        """
        ...

    def record(self, decision: Decision, *, protocol: str, method: str, client: str) -> None:
        """Audit a decision the handler took itself (a refused dial, a UDP guard...)."""
        ...

    async def dial(self, decision: Decision, *, tls: bool = False) -> Streams:
        """Connect to an allowed decision's checked addresses; raises ``DialError``."""
        ...

    async def dial_tunnel(self, decision: Decision) -> tuple[socket.socket, bytes]:
        """The upstream end of an opaque tunnel (socket, bytes already read); ``DialError``."""
        ...

    async def dial_http(self, decision: Decision) -> tuple[Streams, UpstreamProxy | None]:
        """Connect for plain HTTP (directly or to the upstream proxy); raises ``DialError``."""
        ...

    def inspection_context(self, host: str, sni_check: SniCheck) -> ssl.SSLContext:
        """The TLS server context presenting the session leaf for ``host``."""
        ...
