"""The one entry point the CLI (and the agent) call: run a command under a policy, starting the
session proxy first when the network mode is ``proxy``.

The proxy runs in the caller's asyncio loop next to the command (no threads). Each proxied
sandbox gets its own listeners on ``127.0.0.1:3128``/``:8081`` inside its network namespace
(opened there by the runner's helper and handed to us), and the proxy accepts on them directly:
no socket of the proxy is ever mounted into a sandbox. The session CA key stays in the proxy's
memory; only the CA *bundle* (certificates) is exposed to the command.

Importing this module does not import the proxy package: a command that never needs the
network does not pay for it.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_admin.errors import CodexError
from codex_admin.sandbox.env import build_child_env
from codex_admin.sandbox.guard import TreeIndex
from codex_admin.sandbox.launch import (
    BRIDGE_HTTP_PORT,
    BRIDGE_SOCKS_PORT,
    ProxyEndpoints,
    RunResult,
    explain,
    resolve_program,
)
from codex_admin.sandbox.plan import plan_sandbox
from codex_admin.sandbox.policy import NetworkMode, SandboxPolicy
from codex_admin.sandbox.runner import run_sandboxed, spawn_unsandboxed
from codex_admin.sandbox.seatbelt import sandbox_exec_argv, seatbelt_profile

if TYPE_CHECKING:
    from codex_admin.proxy import NetworkPolicy, ProxyServer

__all__ = [
    "SandboxSession",
    "explain_command",
    "macos_profile",
    "run_command",
    "run_command_macos",
]


def _network_policy(
    network_config: Mapping[str, Any] | None, managed_network: Mapping[str, Any] | None
) -> NetworkPolicy:
    # The proxy package (policy compilation, and for a session asyncio servers and TLS):
    # imported only when a command needs the network.
    from codex_admin.proxy import build_network_policy

    return build_network_policy(network_config, managed_network)


async def _never_served(sock: socket.socket, protocol: str) -> Any:
    raise CodexError("explain-only endpoints serve nothing")  # pragma: no cover


def _explain_endpoints(net: NetworkPolicy) -> ProxyEndpoints:
    from codex_admin.proxy import proxy_environment

    bundle = Path("<CODEX_HOME>/proxy/ca-bundle-<sha256>.pem") if net.inspects_https else None
    return ProxyEndpoints(
        socks=net.enable_socks5,
        ca_bundle=bundle,
        environment=partial(
            proxy_environment, allow_local_binding=net.allow_local_binding, ca_bundle=bundle
        ),
        serve=_never_served,
    )


def explain_command(
    policy: SandboxPolicy,
    command: Sequence[str],
    *,
    network_config: Mapping[str, Any] | None = None,
    managed_network: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Policy, resolved plan, backend argv and child env names, without running anything.
    In proxy mode the session paths are shown as ``<symbolic paths>`` (they exist only at run)."""
    if policy.network is NetworkMode.PROXY:
        net = _network_policy(network_config, managed_network)
        result = explain(policy, command, proxy=_explain_endpoints(net), environ=environ)
        result["network_policy"] = net.to_json()
        return result
    return explain(policy, command, environ=environ)


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
        self.index = TreeIndex()

    @property
    def network_policy(self) -> NetworkPolicy:
        if self._network is None:
            self._network = (
                self._network_factory()
                if self._network_factory is not None
                else _network_policy(self._network_config, self._managed_network)
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


async def run_command(
    policy: SandboxPolicy,
    command: Sequence[str],
    *,
    codex_home: Path,
    network_config: Mapping[str, Any] | None = None,
    managed_network: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    forward_signals: bool = False,
    environ: Mapping[str, str] | None = None,
    stdin: int | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
    proxy_options: Mapping[str, Any] | None = None,
) -> RunResult:
    """Run one ``command`` in a one-command :class:`SandboxSession` (``codex sandbox``)."""
    async with SandboxSession(
        codex_home=codex_home,
        network_config=network_config,
        managed_network=managed_network,
        proxy_options=proxy_options,
    ) as session:
        return await session.run(
            policy,
            command,
            timeout=timeout,
            forward_signals=forward_signals,
            environ=environ,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
        )


def _seatbelt_ports(net: NetworkPolicy) -> list[int]:
    ports = [net.http_port or BRIDGE_HTTP_PORT]
    if net.enable_socks5:
        ports.append(net.socks_port or BRIDGE_SOCKS_PORT)
    return ports


def macos_profile(
    policy: SandboxPolicy,
    command: Sequence[str],
    *,
    network_config: Mapping[str, Any] | None = None,
    managed_network: Mapping[str, Any] | None = None,
) -> tuple[str, list[str]]:
    """The Seatbelt profile and ``sandbox-exec`` argv for ``policy`` (printable anywhere).
    Proxy ports are the configured ``http_port``/``socks_port`` (3128/8081 by default); a real
    macOS run uses the ports the session proxy actually bound."""
    plan = plan_sandbox(policy)
    ports: list[int] = []
    if policy.network is NetworkMode.PROXY:
        ports = _seatbelt_ports(_network_policy(network_config, managed_network))
    profile = seatbelt_profile(plan, deny_read_globs=policy.deny_read, proxy_ports=ports)
    return profile, sandbox_exec_argv(profile, command)


async def run_command_macos(  # pragma: no cover - needs macOS
    policy: SandboxPolicy,
    command: Sequence[str],
    *,
    codex_home: Path,
    network_config: Mapping[str, Any] | None = None,
    managed_network: Mapping[str, Any] | None = None,
    timeout: float | None = None,
) -> RunResult:
    """Run ``command`` under ``sandbox-exec`` (macOS), with the session proxy on TCP loopback
    ports that the profile allows as the only outbound destinations in ``proxy`` mode."""
    from codex_admin.proxy import ProxyServer

    plan = plan_sandbox(policy)
    env = build_child_env(policy.env, os.environ)

    async def launch(profile: str) -> RunResult:
        argv = sandbox_exec_argv(profile, command)
        program = resolve_program(argv[0], os.environ.get("PATH"), plan.cwd)
        return await spawn_unsandboxed(argv, env, plan.cwd, program, timeout=timeout)

    if policy.network is not NetworkMode.PROXY:
        return await launch(seatbelt_profile(plan, deny_read_globs=policy.deny_read))
    net = _network_policy(network_config, managed_network)
    async with ProxyServer(net, codex_home=codex_home) as server:
        ports = [server.http_address[1]]
        if server.socks_address is not None:
            ports.append(server.socks_address[1])
        env.update(server.environment())
        return await launch(
            seatbelt_profile(plan, deny_read_globs=policy.deny_read, proxy_ports=ports)
        )
