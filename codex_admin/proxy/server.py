"""The asyncio proxy server: listeners, lifecycle, and the context its handlers run in.

Listeners bind loopback only (a non-loopback bind needs ``allow_non_loopback``) on ephemeral
ports by default, plus optional Unix sockets so a sandbox whose network namespace has no route
out can still reach the proxy. Every connection runs in a tracked task; :meth:`stop` closes the
listeners, cancels those tasks and waits for them, so nothing is left behind.

**Connection limit** (``max_connections``): a connection is admitted once, in its protocol's
``connection_made`` (HTTP: :class:`~codex_admin.proxy.intake.HttpIntake`; SOCKS5: its stream
callback), against a count of every connection admitted and not yet finished: those still in
the HTTP intake plus every task serving one. A task is counted (and :meth:`stop` can cancel
it) from the moment it is created, not from its first step, so a connection handed on from
the intake is counted all the way through. Over the limit, or while stopping, it is closed.

:class:`ProxyServer` is the :class:`~codex_admin.proxy.context.ProxyContext` its protocol
handlers see: policy decisions (audited), dialling (:mod:`.dial`) and the session CA's TLS
contexts. Nothing TLS-related is built unless a TLS path is used: the session CA (and the
cryptography import behind it) only with inspection on, the upstream verification context only
on the first inspected request.

**Deciding allow-list misses** (``decider``): an async callable ``(host, port, protocol) ->
(decision, reason)`` with decision ``"allow"``, ``"deny"`` or ``"ask"``. It is consulted only
for a host no allow entry matches (never for a deny-list hit or a local/private target, and
never when requirements set ``managed_allowed_domains_only``), after the DNS guard, so an
approved name still cannot reach a private address. An ``allow`` is audited with
``source="decider"`` and ``override=true``; ``deny``/``ask`` block with the decider's reason.
:class:`SessionDecider` is the usual shape: remember hosts approved for this session and ask a
reviewer once per other host.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import ssl
import stat
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from codex_admin.errors import CodexError, Location
from codex_admin.proxy.audit import AuditLog, AuditObserver, BlockedRequest
from codex_admin.proxy.connect import serve_connect
from codex_admin.proxy.context import SniCheck
from codex_admin.proxy.dial import Dialer, Streams
from codex_admin.proxy.env import proxy_environment
from codex_admin.proxy.exchange import client_name
from codex_admin.proxy.http1 import MAX_HEAD_BYTES, Authority
from codex_admin.proxy.http_handler import handle_http
from codex_admin.proxy.intake import HttpIntake, IntakeQueue
from codex_admin.proxy.policy import Decider, Decision, NetworkPolicy, RequestShape, decide
from codex_admin.proxy.pool import UpstreamPool
from codex_admin.proxy.resolver import Resolver, SystemResolver
from codex_admin.proxy.socks5 import handle_socks
from codex_admin.proxy.upstream import UpstreamProxy, UpstreamRoutes

if TYPE_CHECKING:
    # Names for readers and mypy only: the CA module (and cryptography) is imported in
    # start() when inspection is on, so a proxy without inspection never pays for it.
    from codex_admin.proxy.ca import SessionCA

__all__ = ["ProxyServer"]


Work = Coroutine[object, object, None]  # one connection's handler, as a task runs it
Listener = str  # "http" (through the intake, :mod:`.intake`) or "socks" (asyncio streams)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ProxyServer:
    """HTTP/1.1 forward proxy + SOCKS5 with policy, audit and optional HTTPS inspection."""

    def __init__(
        self,
        policy: NetworkPolicy,
        *,
        codex_home: Path,
        http_bind: tuple[str, int] = ("127.0.0.1", 0),
        socks_bind: tuple[str, int] | None = ("127.0.0.1", 0),
        unix_socket_dir: Path | None = None,
        mitm: bool | None = None,
        audit_log: Path | None = None,
        audit_observer: AuditObserver | None = None,
        resolver: Resolver | None = None,
        allow_non_loopback: bool = False,
        decider: Decider | None = None,
        upstream_ssl_context: ssl.SSLContext | None = None,
        header_timeout: float = 15.0,
        body_timeout: float = 60.0,
        connect_timeout: float = 10.0,
        tunnel_idle_timeout: float | None = 900.0,
        max_connections: int = 4096,
        upstream_env: Mapping[str, str] | None = None,
        udp_idle_timeout: float = 300.0,
    ) -> None:
        for bind in (http_bind, socks_bind):
            if bind is None or _is_loopback(bind[0]):
                continue
            if policy.non_loopback_forbidden:
                raise CodexError(
                    f"refusing to listen on non-loopback address {bind[0]}: requirements "
                    "forbid it (experimental_network.dangerously_allow_non_loopback_proxy = "
                    "false)",
                    hint="listen on 127.0.0.1; --dangerously-allow-non-loopback cannot lift a "
                    "requirement",
                )
            if not (allow_non_loopback or policy.dangerously_allow_non_loopback_proxy):
                raise CodexError(
                    f"refusing to listen on non-loopback address {bind[0]}",
                    hint="the proxy listens on loopback only; to expose it to the network pass "
                    "--dangerously-allow-non-loopback to `codex proxy run` "
                    "(config: network.dangerously_allow_non_loopback_proxy = true)",
                )
        self.policy = policy
        self.codex_home = codex_home
        self.mitm = policy.inspects_https if mitm is None else mitm
        self.resolver: Resolver = resolver or SystemResolver()
        self.decider = decider
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.connect_timeout = connect_timeout
        # Like Squid's read_timeout: a tunnel silent both ways this long is closed.
        self.tunnel_idle_timeout = tunnel_idle_timeout
        self.max_connections = max_connections
        self.udp_idle_timeout = udp_idle_timeout  # a quiet SOCKS5 UDP association is closed
        self.audit = AuditLog(mode=policy.mode, jsonl_path=audit_log)
        if audit_observer is not None:  # e.g. telemetry: every allow/deny, never a URL
            self.audit.subscribe(audit_observer)
        # Chaining reads this process's proxy variables, and only when the policy opts in.
        routes = (
            UpstreamRoutes.from_environ(os.environ if upstream_env is None else upstream_env)
            if policy.allow_upstream_proxy
            else UpstreamRoutes()
        )
        self._dialer = Dialer(
            policy, routes, connect_timeout=connect_timeout, tls_context=upstream_ssl_context
        )
        self.upstream_pool = UpstreamPool()
        self._http_bind = http_bind
        self._socks_bind = socks_bind if policy.enable_socks5 else None
        self._unix_dir = unix_socket_dir
        self._servers: list[asyncio.Server] = []
        self._listening: list[tuple[socket.socket, Listener]] = []  # bound by bind()
        self._bound_pid: int | None = None  # the process that bound them (see bind)
        # Each connection's handler, from the moment its task is created: the task, and what
        # closes the connection (stop() does that for a task cancelled before its first step).
        self._tasks: dict[Work, tuple[asyncio.Task[None], Callable[[], None]]] = {}
        self._intakes: IntakeQueue | None = None  # HTTP connections still sending their head
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None  # the serving loop (see _serve)
        self.ca: SessionCA | None = None
        self.http_address: tuple[str, int] = ("", 0)
        self.socks_address: tuple[str, int] | None = None
        self.http_unix_path: Path | None = None
        self.socks_unix_path: Path | None = None
        self.ca_cert_path: Path | None = None
        self.ca_bundle_path: Path | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def bind(self) -> None:
        """Open the listening sockets and the session CA, without serving yet (no event loop).

        :meth:`start` calls it when nobody did. Called first, it lets a supervisor fork worker
        processes that each :meth:`start` serving the same sockets with the same CA
        (:func:`~codex_admin.proxy.workers.serve_in_workers`); only this process removes the
        Unix sockets and the CA files when it stops (:meth:`release`).
        """
        if self._bound_pid is not None:
            return
        self._bound_pid = os.getpid()
        try:
            if self.mitm:
                # Imported here to keep start-up cheap: cryptography only when inspection is on.
                from codex_admin.proxy.ca import SessionCA

                self.ca = SessionCA()
                self.ca_cert_path, self.ca_bundle_path = self.ca.write_artifacts(self.codex_home)
            sock = _tcp_listener(self._http_bind)
            self._listening.append((sock, "http"))
            self.http_address = sock.getsockname()[:2]
            if self._socks_bind is not None:
                sock = _tcp_listener(self._socks_bind)
                self._listening.append((sock, "socks"))
                self.socks_address = sock.getsockname()[:2]
            if self._unix_dir is not None:
                self.http_unix_path = self._unix_listener("http.sock", "http")
                if self._socks_bind is not None:
                    self.socks_unix_path = self._unix_listener("socks.sock", "socks")
        except OSError as err:
            self.release()
            self._bound_pid = None
            where = f" on {err.filename}" if err.filename else ""
            raise CodexError(
                f"cannot start the proxy listener{where}: {err.strerror or err}"
            ) from None
        except CodexError:
            self.release()
            self._bound_pid = None
            raise
        listeners = [self.http_address]
        if self.socks_address is not None:
            listeners.append(self.socks_address)
        self._dialer.upstream = self._dialer.upstream.without(listeners)

    async def start(self) -> None:
        self.bind()
        try:
            for sock, listener in self._listening:
                self._servers.append(await self._serve(sock, listener))
        except OSError as err:
            await self.stop()
            raise CodexError(f"cannot start the proxy listener: {err.strerror or err}") from None

    async def _serve(self, sock: socket.socket, listener: Listener) -> asyncio.Server:
        """Accept on a bound listening socket: HTTP through the intake, SOCKS5 with streams."""
        loop = self._loop = asyncio.get_running_loop()
        if self._intakes is None:
            self._intakes = IntakeQueue(loop, self.header_timeout, self._admit)
        factory = self._new_intake if listener == "http" else self._new_socks
        if sock.family == socket.AF_UNIX:
            return await loop.create_unix_server(factory, sock=sock, backlog=1024)
        return await loop.create_server(factory, sock=sock, backlog=1024)

    def _unix_listener(self, name: str, listener: Listener) -> Path:
        assert self._unix_dir is not None
        try:
            info = os.lstat(self._unix_dir)
        except OSError as err:
            raise CodexError(
                f"cannot use this directory for the proxy's Unix sockets: {err.strerror or err}",
                location=Location(self._unix_dir),
                hint="give an existing directory (it is not created for you)",
            ) from None
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise CodexError(
                f"{self._unix_dir} must be a real directory for proxy sockets",
                hint="give a directory that is not a symlink",
            )
        path = self._unix_dir / name
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Bound under a 0177 umask, the socket is 0600 from its first instant: no window in
        # which another local user could connect through a directory they can enter.
        old_umask = os.umask(0o177)
        try:
            sock.bind(str(path))
        except OSError as err:
            sock.close()
            raise CodexError(
                f"cannot listen on {path}: {err.strerror or err}",
                hint="use a shorter --unix-dir path (Unix socket paths are limited to 107 bytes)"
                if len(os.fsencode(path)) > 107
                else None,
            ) from None
        finally:
            os.umask(old_umask)
        try:
            sock.listen(1024)
        except OSError:
            sock.close()
            raise
        self._listening.append((sock, listener))
        return path

    async def stop(self) -> None:
        self._stopping = True
        for server in self._servers:
            server.close()
        if self._intakes is not None:
            self._intakes.abort_all()
        tasks = [task for task, _ in self._tasks.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        # A task cancelled before its first step never ran its handler, nor the finally that
        # closes its connection: close both here.
        for work, (_, close) in self._tasks.items():
            work.close()
            close()
        self._tasks.clear()
        for server in self._servers:
            with contextlib.suppress(OSError):
                await server.wait_closed()
        self._servers.clear()
        self.upstream_pool.close()
        self.release()

    def release(self) -> None:
        """Close the listening sockets and the audit log; in the process that bound them, also
        remove the Unix sockets and the session CA's files (a forked worker leaves them to
        its supervisor)."""
        for sock, _ in self._listening:
            sock.close()
        self._listening.clear()
        if self._bound_pid == os.getpid():
            if self.ca is not None:
                self.ca.release()
            for path in (self.http_unix_path, self.socks_unix_path):
                if path is not None:
                    with contextlib.suppress(OSError):
                        path.unlink()
        self.audit.close()

    async def __aenter__(self) -> ProxyServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def serve_socket(self, sock: socket.socket, protocol: str) -> asyncio.Server:
        """Accept on ``sock``, a listening socket made elsewhere (``"http"`` or ``"socks"``).

        The Linux sandbox opens its listeners inside the command's network namespace and hands
        them over, so no socket of ours is ever reachable from the sandbox's filesystem. Close
        the returned server when that sandbox ends; :meth:`stop` closes it too.
        """
        if protocol not in ("http", "socks"):
            raise ValueError(f"no such listener protocol: {protocol!r}")
        server = await self._serve(sock, protocol)
        self._servers.append(server)
        return server

    # -- connections -------------------------------------------------------------------
    def _admit(self) -> bool:
        """Whether one more connection may be served now (see the module docstring)."""
        return not self._stopping and self.active_connections < self.max_connections

    def _new_intake(self) -> asyncio.Protocol:
        """A new HTTP-listener connection's first protocol (it asks :meth:`_admit` once
        connected)."""
        assert self._intakes is not None
        return HttpIntake(
            self._intakes,
            inspects_443=self.mitm,
            on_connect=self._intake_connect,
            on_streams=self._intake_streams,
        )

    def _new_socks(self) -> asyncio.Protocol:
        """A new SOCKS5 connection's protocol: asyncio streams, admitted once connected."""

        def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if not self._admit():
                writer.close()
                return
            self._spawn(handle_socks(self, reader, writer), writer.close)

        return asyncio.StreamReaderProtocol(asyncio.StreamReader(limit=MAX_HEAD_BYTES), connected)

    def _intake_connect(
        self, transport: asyncio.Transport, authority: Authority, leftover: bytes
    ) -> None:
        work = serve_connect(self, transport, authority, client_name(transport), leftover=leftover)
        self._spawn(work, transport.close)

    def _intake_streams(
        self, transport: asyncio.Transport, buffered: bytes, eof: bool, head_timeout: float
    ) -> None:
        """Give an intake's connection asyncio streams and the stream handler, as if
        ``asyncio.start_server`` had accepted it and its reader had read ``buffered``."""

        def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            work = handle_http(self, reader, writer, first_head_timeout=head_timeout)
            self._spawn(work, writer.close)  # admitted already, by the intake

        reader = asyncio.StreamReader(limit=MAX_HEAD_BYTES)
        protocol = asyncio.StreamReaderProtocol(reader, connected)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if buffered:
            protocol.data_received(buffered)
        if eof:
            protocol.eof_received()

    def _spawn(self, work: Work, close: Callable[[], None]) -> None:
        """Serve one admitted connection in a task, counted from this moment on."""
        assert self._loop is not None
        task = self._loop.create_task(self._serve_one(work, close))
        self._tasks[work] = (task, close)

    async def _serve_one(self, work: Work, close: Callable[[], None]) -> None:
        """Run ``work``; ``close`` the connection however it ends."""
        try:
            await work
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            # stop() (or loop shutdown) ended this connection. It is a top-level task that
            # nobody awaits for its cancellation: end it normally instead.
            pass
        except Exception as exc:  # noqa: BLE001 - reported, not swallowed
            # A bug, or a policy hook (decider, resolver) that raised. Nobody awaits this
            # task (it is not asyncio's stream callback, which would report it), so say so
            # now: left in the task it would surface only when the collector found it, or
            # never.
            assert self._loop is not None
            self._loop.call_exception_handler(
                {"message": "unhandled exception serving a proxy connection", "exception": exc}
            )
        finally:
            self._tasks.pop(work, None)
            # The transport flushes what is buffered and closes by itself; waiting for
            # that (wait_closed) would cost every connection another loop turn and timer.
            close()

    # -- views -------------------------------------------------------------------------
    @property
    def upstream(self) -> UpstreamRoutes:
        """Where chained requests go (empty unless ``allow_upstream_proxy``)."""
        return self._dialer.upstream

    @property
    def upstream_ssl_context(self) -> ssl.SSLContext:
        """The context verifying upstream servers of inspected HTTPS (built on first use)."""
        return self._dialer.tls_context

    @property
    def warnings(self) -> list[str]:
        """Start-up problems a person should see (an ignored upstream proxy variable, ...)."""
        return list(self.upstream.warnings)

    @property
    def blocked(self) -> list[BlockedRequest]:
        return list(self.audit.blocked)

    @property
    def active_connections(self) -> int:
        """Connections being served, including those still sending their first head."""
        return len(self._tasks) + (len(self._intakes) if self._intakes is not None else 0)

    @property
    def http_url(self) -> str:
        host, port = self.http_address
        return f"http://{_url_host(host)}:{port}"

    @property
    def socks_url(self) -> str | None:
        if self.socks_address is None:
            return None
        host, port = self.socks_address
        return f"socks5h://{_url_host(host)}:{port}"

    def environment(self) -> dict[str, str]:
        """The child environment for this running proxy (see :func:`proxy_environment`)."""
        return proxy_environment(
            self.http_url,
            self.socks_url,
            allow_local_binding=self.policy.allow_local_binding,
            ca_bundle=self.ca_bundle_path,
        )

    # -- the handlers' context (ProxyContext) ------------------------------------------
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
        """Run the policy and record the audit event (allows included)."""
        decision = await decide(
            self.policy,
            protocol=protocol,
            host=host,
            port=port,
            method=method,
            resolver=self.resolver,
            decider=self.decider,
            mitm_available=self.mitm,
            request=request,
        )
        self.audit.record(decision, protocol=protocol, method=method, client=client)
        return decision

    def record(self, decision: Decision, *, protocol: str, method: str, client: str) -> None:
        self.audit.record(decision, protocol=protocol, method=method, client=client)

    async def dial(self, decision: Decision, *, tls: bool = False) -> Streams:
        return await self._dialer.dial(decision, tls=tls)

    async def dial_tunnel(self, decision: Decision) -> tuple[socket.socket, bytes]:
        return await self._dialer.dial_tunnel(decision)

    async def dial_http(self, decision: Decision) -> tuple[Streams, UpstreamProxy | None]:
        return await self._dialer.dial_http(decision)

    def inspection_context(self, host: str, sni_check: SniCheck) -> ssl.SSLContext:
        if self.ca is None:
            raise RuntimeError("inspection requested on a proxy without a session CA")
        return self.ca.server_context(host, sni_check)


def _tcp_listener(bind: tuple[str, int]) -> socket.socket:
    """A listening TCP socket on the first address ``bind``'s host names (SO_REUSEADDR as
    asyncio sets it; an IPv6 socket is IPv6-only)."""
    host, port = bind
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    sock = socket.create_server(address, family=family, backlog=1024)
    sock.setblocking(False)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
