"""The one entry point the CLI (and the agent) call: run a command under a policy, starting the
session proxy first when the network mode is ``proxy``.

The proxy runs in the caller's asyncio loop next to the command (no threads). It listens on Unix
sockets in a private directory (mode 0700) that is bound read-only into the sandbox; the bridge
inside the network namespace forwards 127.0.0.1 ports to them. The session CA key stays in the
proxy's memory; only the CA *bundle* (certificates) is exposed to the command.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from codex_admin.errors import CodexError
from codex_admin.proxy import NetworkPolicy, ProxyServer, build_network_policy, proxy_environment
from codex_admin.sandbox.env import build_child_env
from codex_admin.sandbox.plan import plan_sandbox
from codex_admin.sandbox.policy import NetworkMode, SandboxPolicy
from codex_admin.sandbox.runner import (
    BRIDGE_HTTP_PORT,
    BRIDGE_SOCKS_PORT,
    ProxyEndpoints,
    RunResult,
    explain,
    run_sandboxed,
    spawn,
)
from codex_admin.sandbox.seatbelt import sandbox_exec_argv, seatbelt_profile

__all__ = [
    "SandboxSession",
    "explain_command",
    "macos_profile",
    "run_command",
    "run_command_macos",
]


def _explain_endpoints(
    network_config: Mapping[str, Any] | None, managed_network: Mapping[str, Any] | None
) -> ProxyEndpoints:
    net = build_network_policy(network_config, managed_network)
    bundle = Path("<CODEX_HOME>/proxy/ca-bundle-<sha256>.pem") if net.inspects_https else None
    return ProxyEndpoints(
        http_unix_path=Path("<session-dir>/http.sock"),
        socks_unix_path=Path("<session-dir>/socks.sock") if net.enable_socks5 else None,
        ca_bundle=bundle,
        environment=partial(
            proxy_environment, allow_local_binding=net.allow_local_binding, ca_bundle=bundle
        ),
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
    proxy = None
    if policy.network is NetworkMode.PROXY:
        proxy = _explain_endpoints(network_config, managed_network)
        result = explain(policy, command, proxy=proxy, environ=environ)
        result["network_policy"] = build_network_policy(network_config, managed_network).to_json()
        return result
    return explain(policy, command, environ=environ)


class SandboxSession:
    """Many sandboxed commands sharing ONE session proxy, started on first need.

    The agent runs every tool call of a session through one of these: the proxy (and its CA)
    starts the first time a command needs ``proxy`` network mode and stops when the session
    closes, so a hundred tool calls cost one proxy start-up, and the proxy's per-session state
    (approved hosts, audit) spans the whole session. Use as ``async with SandboxSession(...)``.
    ``proxy_options`` are passed to :class:`ProxyServer` (resolver, audit_log, decider, ...).
    """

    def __init__(
        self,
        *,
        codex_home: Path,
        network_config: Mapping[str, Any] | None = None,
        managed_network: Mapping[str, Any] | None = None,
        proxy_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._codex_home = codex_home
        self._network = build_network_policy(network_config, managed_network)
        self._proxy_options = dict(proxy_options or {})
        self._session_dir: tempfile.TemporaryDirectory[str] | None = None
        self._server: ProxyServer | None = None
        self._endpoints: ProxyEndpoints | None = None
        self._lock = asyncio.Lock()

    @property
    def network_policy(self) -> NetworkPolicy:
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
        """Start the session proxy if it is not running yet; where the sandbox reaches it."""
        async with self._lock:
            if self._endpoints is not None:
                return self._endpoints
            session_dir = tempfile.TemporaryDirectory(prefix="codex-proxy-")
            server = ProxyServer(
                self._network,
                codex_home=self._codex_home,
                unix_socket_dir=Path(session_dir.name),
                **self._proxy_options,
            )
            try:
                await server.start()
            except BaseException:
                session_dir.cleanup()
                raise
            if server.http_unix_path is None:
                await server.stop()
                session_dir.cleanup()
                raise CodexError("the session proxy did not open its Unix socket")
            self._session_dir, self._server = session_dir, server
            self._endpoints = ProxyEndpoints(
                http_unix_path=server.http_unix_path,
                socks_unix_path=server.socks_unix_path,
                ca_bundle=server.ca_bundle_path,
                environment=partial(
                    proxy_environment,
                    allow_local_binding=self._network.allow_local_binding,
                    ca_bundle=server.ca_bundle_path,
                ),
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
    ) -> RunResult:
        """Run one command under ``policy``; in ``proxy`` mode through the session proxy."""
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
        )

    async def close(self) -> None:
        """Stop the proxy (if it ran) and remove its socket directory. Idempotent."""
        server, session_dir = self._server, self._session_dir
        self._server = self._session_dir = self._endpoints = None
        try:
            if server is not None:
                await server.stop()
        finally:
            if session_dir is not None:
                session_dir.cleanup()


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
    if policy.network is not NetworkMode.PROXY:
        return await run_sandboxed(
            policy,
            command,
            timeout=timeout,
            forward_signals=forward_signals,
            environ=environ,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
        )
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
        ports = _seatbelt_ports(build_network_policy(network_config, managed_network))
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
    plan = plan_sandbox(policy)
    env = build_child_env(policy.env, os.environ)
    if policy.network is not NetworkMode.PROXY:
        profile = seatbelt_profile(plan, deny_read_globs=policy.deny_read)
        argv = sandbox_exec_argv(profile, command)
        return await spawn(
            argv, env, plan.cwd, None, timeout, True, None, None, None, sandboxed=True
        )
    net = build_network_policy(network_config, managed_network)
    async with ProxyServer(net, codex_home=codex_home) as server:
        ports = [server.http_address[1]]
        if server.socks_address is not None:
            ports.append(server.socks_address[1])
        env.update(server.environment())
        profile = seatbelt_profile(plan, deny_read_globs=policy.deny_read, proxy_ports=ports)
        argv = sandbox_exec_argv(profile, command)
        return await spawn(
            argv, env, plan.cwd, None, timeout, True, None, None, None, sandboxed=True
        )
