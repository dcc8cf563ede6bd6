"""The asyncio proxy server: listeners, lifecycle, policy glue, pinned dialing.

Listeners bind loopback only (a non-loopback bind needs ``allow_non_loopback``) on ephemeral
ports by default, plus optional Unix sockets so a sandbox whose network namespace has no route
out can still reach the proxy. Every connection runs in a tracked task; :meth:`stop` closes the
listeners, cancels those tasks and waits for them, so nothing is left behind.

Dialing uses only the addresses the policy already checked (no second DNS lookup) and re-checks
each address right before ``connect()`` (spec §8.3), unless the policy opted into chaining to
the organisation's upstream HTTP proxy (see :mod:`codex_admin.proxy.upstream`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import socket
import ssl
import stat
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType

from codex_admin.errors import CodexError
from codex_admin.proxy.audit import AuditLog, BlockedRequest
from codex_admin.proxy.ca import SessionCA
from codex_admin.proxy.env import proxy_environment
from codex_admin.proxy.http1 import MAX_HEAD_BYTES
from codex_admin.proxy.policy import Decider, Decision, NetworkPolicy, decide, dial_permitted
from codex_admin.proxy.resolver import Resolver, SystemResolver
from codex_admin.proxy.upstream import UpstreamError, UpstreamProxy, UpstreamRoutes, open_tunnel

__all__ = ["DialError", "ProxyServer"]


Handler = Callable[["ProxyServer", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
ClientCallback = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


# Upstream reads buffer up to this much before pausing the socket (throughput for tunnels);
# response heads are still capped at MAX_HEAD_BYTES by the parser.
UPSTREAM_BUFFER = 1 << 20


class DialError(Exception):
    """No checked address could be connected to; ``refused`` when the guard vetoed them all."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


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
            if (
                bind is not None
                and not _is_loopback(bind[0])
                and not (allow_non_loopback or policy.dangerously_allow_non_loopback_proxy)
            ):
                raise CodexError(
                    f"refusing to listen on non-loopback address {bind[0]}",
                    hint="the proxy binds 127.0.0.1 only unless explicitly allowed "
                    "(dangerously_allow_non_loopback_proxy)",
                )
        self.policy = policy
        self.codex_home = codex_home
        self.mitm = policy.inspects_https if mitm is None else mitm
        self.resolver: Resolver = resolver or SystemResolver()
        self.decider = decider
        self.upstream_ssl_context = upstream_ssl_context or ssl.create_default_context()
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.connect_timeout = connect_timeout
        # Like Squid's read_timeout: a tunnel silent both ways this long is closed.
        self.tunnel_idle_timeout = tunnel_idle_timeout
        self.max_connections = max_connections
        self.udp_idle_timeout = udp_idle_timeout  # a quiet SOCKS5 UDP association is closed
        self.audit = AuditLog(mode=policy.mode, jsonl_path=audit_log)
        # Chaining reads this process's proxy variables, and only when the policy opts in.
        self.upstream = (
            UpstreamRoutes.from_environ(os.environ if upstream_env is None else upstream_env)
            if policy.allow_upstream_proxy
            else UpstreamRoutes()
        )
        self._http_bind = http_bind
        self._socks_bind = socks_bind if policy.enable_socks5 else None
        self._unix_dir = unix_socket_dir
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[object]] = set()
        self.ca: SessionCA | None = None
        self.http_address: tuple[str, int] = ("", 0)
        self.socks_address: tuple[str, int] | None = None
        self.http_unix_path: Path | None = None
        self.socks_unix_path: Path | None = None
        self.ca_cert_path: Path | None = None
        self.ca_bundle_path: Path | None = None

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        from codex_admin.proxy.http_handler import handle_http
        from codex_admin.proxy.socks5 import handle_socks

        if self.mitm:
            self.ca = SessionCA()
            self.ca_cert_path, self.ca_bundle_path = self.ca.write_artifacts(self.codex_home)
        try:
            server = await asyncio.start_server(
                self._wrap(handle_http), *self._http_bind, limit=MAX_HEAD_BYTES, backlog=1024
            )
            self._servers.append(server)
            self.http_address = server.sockets[0].getsockname()[:2]
            if self._socks_bind is not None:
                server = await asyncio.start_server(
                    self._wrap(handle_socks), *self._socks_bind, limit=MAX_HEAD_BYTES, backlog=1024
                )
                self._servers.append(server)
                self.socks_address = server.sockets[0].getsockname()[:2]
            if self._unix_dir is not None:
                self.http_unix_path = await self._unix_listener("http.sock", handle_http)
                if self._socks_bind is not None:
                    self.socks_unix_path = await self._unix_listener("socks.sock", handle_socks)
        except OSError as err:
            await self.stop()
            raise CodexError(f"cannot start the proxy listener: {err.strerror or err}") from None
        listeners = [self.http_address]
        if self.socks_address is not None:
            listeners.append(self.socks_address)
        self.upstream = self.upstream.without(listeners)

    async def _unix_listener(self, name: str, handler: Handler) -> Path:
        assert self._unix_dir is not None
        info = os.lstat(self._unix_dir)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise CodexError(f"{self._unix_dir} must be a real directory for proxy sockets")
        path = self._unix_dir / name
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                path.unlink()
        server = await asyncio.start_unix_server(
            self._wrap(handler), path=str(path), limit=MAX_HEAD_BYTES, backlog=1024
        )
        os.chmod(path, 0o600)
        self._servers.append(server)
        return path

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(OSError):
                await server.wait_closed()
        self._servers.clear()
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
        from codex_admin.proxy.http_handler import handle_http
        from codex_admin.proxy.socks5 import handle_socks

        handler = {"http": handle_http, "socks": handle_socks}[protocol]
        server = await asyncio.start_server(
            self._wrap(handler), sock=sock, limit=MAX_HEAD_BYTES, backlog=1024
        )
        self._servers.append(server)
        return server

    def _wrap(self, handler: Handler) -> ClientCallback:
        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is None or len(self._tasks) >= self.max_connections:
                writer.close()
                return
            self._tasks.add(task)
            try:
                await handler(self, reader, writer)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError):
                pass
            except asyncio.CancelledError:
                # stop() (or loop shutdown) ended this connection. It is a top-level task that
                # nobody awaits for its cancellation, and asyncio's stream callback would log
                # a traceback for every cancelled one: end it normally instead.
                pass
            finally:
                self._tasks.discard(task)
                writer.close()
                with contextlib.suppress(OSError, ssl.SSLError, asyncio.CancelledError):
                    await asyncio.wait_for(writer.wait_closed(), 1.0)

        return run

    # -- views -------------------------------------------------------------------------
    @property
    def warnings(self) -> list[str]:
        """Start-up problems a person should see (an ignored upstream proxy variable, ...)."""
        return list(self.upstream.warnings)

    @property
    def blocked(self) -> list[BlockedRequest]:
        return list(self.audit.blocked)

    @property
    def active_connections(self) -> int:
        return len(self._tasks)

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

    # -- policy glue -------------------------------------------------------------------
    async def check(
        self, *, protocol: str, host: str, port: int, method: str, client: str
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
        )
        self.audit.record(
            scope=decision.scope,
            decision=decision.decision,
            source=decision.source,
            reason=decision.reason,
            protocol=protocol,
            host=decision.host,
            port=port,
            method=method,
            client=client,
            override=decision.override,
            matched_pattern=decision.matched_pattern,
        )
        return decision

    def refuse_dial(self, decision: Decision, protocol: str, method: str, client: str) -> None:
        self.audit.record(
            scope="domain",
            decision="deny",
            source="baseline_policy",
            reason="not_allowed_local",
            protocol=protocol,
            host=decision.host,
            port=decision.port,
            method=method,
            client=client,
        )

    async def dial(
        self, decision: Decision, *, tls: bool = False
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open the upstream leg of a tunnel (or of inspected HTTPS when ``tls``).

        Direct: connect to one of the decision's checked addresses, re-checking each first.
        Through an upstream proxy: ``CONNECT`` to the target name there, then TLS inside.
        """
        route = self.upstream.for_tunnel(decision.host)
        if route is None:
            return await self._dial_direct(decision, tls=tls)
        server_hostname = decision.host.split("%", 1)[0]
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
                await asyncio.wait_for(
                    writer.start_tls(self.upstream_ssl_context, server_hostname=server_hostname),
                    self.connect_timeout,
                )
            except (OSError, TimeoutError, ssl.SSLError) as err:
                writer.close()
                raise DialError(f"TLS through {route.display()}: {err}") from None
        return reader, writer

    async def dial_http(
        self, decision: Decision
    ) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter], UpstreamProxy | None]:
        """Open a connection for plain HTTP: to the target, or to the upstream HTTP proxy.

        When the second item is a proxy, requests must be sent in absolute form with its
        ``Proxy-Authorization`` header.
        """
        route = self.upstream.for_plain_http(decision.host)
        if route is None:
            return await self._dial_direct(decision, tls=False), None
        try:
            conn = await asyncio.wait_for(
                asyncio.open_connection(route.host, route.port, limit=UPSTREAM_BUFFER),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as err:
            raise DialError(f"upstream proxy {route.display()}: {err}") from None
        return conn, route

    async def _dial_direct(
        self, decision: Decision, *, tls: bool
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        errors: list[str] = []
        vetoed = 0
        for address in decision.addresses:
            if not dial_permitted(self.policy, decision.host, address):
                vetoed += 1
                continue
            context = self.upstream_ssl_context if tls else None
            server_hostname = decision.host.split("%", 1)[0] if tls else None
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(
                        address,
                        decision.port,
                        limit=UPSTREAM_BUFFER,
                        ssl=context,
                        server_hostname=server_hostname,
                    ),
                    self.connect_timeout,
                )
            except (OSError, TimeoutError, ssl.SSLError) as err:
                errors.append(f"{address}: {err}")
        if vetoed and not errors:
            raise DialError("network target rejected by policy", refused=True)
        raise DialError("; ".join(errors) or f"no address for {decision.host}")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def blocked_json(decision: Decision, protocol: str, method: str) -> bytes:
    """The JSON body Codex sends for a blocked plain-HTTP request (spec §12)."""
    body = {
        "status": "blocked",
        "host": decision.host,
        "reason": decision.reason,
        "decision": decision.decision,
        "source": decision.source,
        "protocol": protocol,
        "port": decision.port,
        "method": method,
        "message": decision.message,
    }
    return json.dumps(body, separators=(",", ":")).encode()
