"""The agent's sandbox: many commands of one session sharing ONE session proxy.

Cheap to build: the runner (bubblewrap argv, seccomp filter, the protected-name guard) and the
proxy package are imported by the first command that needs them, so building a session -- part
of `codex exec`'s start-up to the first model request -- costs a few attributes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_admin.sandbox.policy import NetworkMode, SandboxPolicy

if TYPE_CHECKING:  # for readers and mypy; at run time the first command loads them
    from codex_admin.proxy import NetworkPolicy, ProxyServer
    from codex_admin.sandbox.guard import TreeIndex
    from codex_admin.sandbox.launch import ProxyEndpoints, RunResult

__all__ = ["SandboxSession", "load_network_policy"]


def load_network_policy(
    network_config: Mapping[str, Any] | None, managed_network: Mapping[str, Any] | None
) -> NetworkPolicy:
    """The network policy of ``[network]`` + the managed network table."""
    # The proxy package (policy compilation, and for a session asyncio servers and TLS):
    # imported only when a command needs the network.
    from codex_admin.proxy import build_network_policy

    return build_network_policy(network_config, managed_network)


class SandboxSession:
    """Many sandboxed commands sharing ONE session proxy, started on first need.

    The agent runs every tool call of a session through one of these: the proxy (and its CA)
    starts the first time a command needs ``proxy`` network mode and stops when the session
    closes, so a hundred tool calls cost one proxy start-up, and the proxy's per-session state
    (approved hosts, audit) spans the whole session. The protected-name scan is cached across
    the session's runs too (:class:`.guard.TreeIndex`). Use as ``async with SandboxSession(...)``.
    ``proxy_options`` are passed to :class:`ProxyServer` (resolver, audit_log, audit_observer,
    decider, ...).
    The network policy is built from ``network_config`` and ``managed_network``, or by
    ``network_policy`` (a zero-argument callable), the first time a command needs it.
    """

    def __init__(
        self,
        *,
        codex_home: Path,
        network_config: Mapping[str, Any] | None = None,
        managed_network: Mapping[str, Any] | None = None,
        proxy_options: Mapping[str, Any] | None = None,
        network_policy: Callable[[], NetworkPolicy] | None = None,
    ) -> None:
        self._codex_home = codex_home
        self._network_config = network_config
        self._managed_network = managed_network
        self._network_factory = network_policy
        self._network: NetworkPolicy | None = None
        self._proxy_options = dict(proxy_options or {})
        self._server: ProxyServer | None = None
        self._endpoints: ProxyEndpoints | None = None
        self._lock = asyncio.Lock()
        self._index: TreeIndex | None = None

    @property
    def index(self) -> TreeIndex:
        """The protected-name scan cache shared by the session's runs (built by the first)."""
        if self._index is None:
            from codex_admin.sandbox.guard import TreeIndex  # start-up: with the first command

            self._index = TreeIndex()
        return self._index

    @property
    def network_policy(self) -> NetworkPolicy:
        if self._network is None:
            self._network = (
                self._network_factory()
                if self._network_factory is not None
                else load_network_policy(self._network_config, self._managed_network)
            )
        return self._network

    @property
    def proxy(self) -> ProxyServer | None:
        """The running session proxy, or None while no command has needed one."""
        return self._server

    async def __aenter__(self) -> SandboxSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def endpoints(self) -> ProxyEndpoints:
        """Start the session proxy if it is not running yet; how sandboxes reach it."""
        from codex_admin.proxy import ProxyServer, proxy_environment  # only when proxied
        from codex_admin.sandbox.launch import ProxyEndpoints

        async with self._lock:
            if self._endpoints is not None:
                return self._endpoints
            net = self.network_policy
            server = ProxyServer(net, codex_home=self._codex_home, **self._proxy_options)
            await server.start()
            self._server = server
            self._endpoints = ProxyEndpoints(
                socks=server.socks_address is not None,
                ca_bundle=server.ca_bundle_path,
                environment=partial(
                    proxy_environment,
                    allow_local_binding=net.allow_local_binding,
                    ca_bundle=server.ca_bundle_path,
                ),
                serve=server.serve_socket,
            )
            return self._endpoints

    async def run(
        self,
        policy: SandboxPolicy,
        command: Sequence[str],
        *,
        timeout: float | None = None,
        forward_signals: bool = False,
        environ: Mapping[str, str] | None = None,
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        workdir: Path | None = None,
        output_limit: int | None = None,
    ) -> RunResult:
        """Run one command under ``policy``; in ``proxy`` mode through the session proxy.
        ``workdir`` and ``output_limit`` are as in :func:`run_sandboxed`."""
        # The runner (bubblewrap, seccomp, the plan) loads with the first command, not when
        # the session is built: an agent session's first model request does not wait for it.
        from codex_admin.sandbox.runner import run_sandboxed

        proxy = await self.endpoints() if policy.network is NetworkMode.PROXY else None
        return await run_sandboxed(
            policy,
            command,
            proxy=proxy,
            environ=environ,
            timeout=timeout,
            forward_signals=forward_signals,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            index=self.index,
            workdir=workdir,
            output_limit=output_limit,
        )

    async def close(self) -> None:
        """Stop the proxy (if it ran). Idempotent."""
        server = self._server
        self._server = self._endpoints = None
        if server is not None:
            await server.stop()
