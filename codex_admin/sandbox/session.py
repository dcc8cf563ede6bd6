"""The one entry point the CLI calls: run a command under a policy, starting the session proxy
first when the network mode is ``proxy`` (in a one-command :class:`~.shared.SandboxSession`, the
agent's many-command session); explain a command; macOS.

The proxy runs in the caller's asyncio loop next to the command (no threads). Each proxied
sandbox gets its own listeners on ``127.0.0.1:3128``/``:8081`` inside its network namespace
(opened there by the runner's helper and handed to us), and the proxy accepts on them directly:
no socket of the proxy is ever mounted into a sandbox. The session CA key stays in the proxy's
memory; only the CA *bundle* (certificates) is exposed to the command.

Importing this module does not import the proxy package: a command that never needs the
network does not pay for it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_admin.errors import CodexError
from codex_admin.sandbox.env import build_child_env
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
from codex_admin.sandbox.runner import spawn_unsandboxed
from codex_admin.sandbox.seatbelt import sandbox_exec_argv, seatbelt_profile
from codex_admin.sandbox.shared import SandboxSession, load_network_policy

if TYPE_CHECKING:
    from codex_admin.proxy import NetworkPolicy

__all__ = [
    "SandboxSession",
    "explain_command",
    "macos_profile",
    "run_command",
    "run_command_macos",
]


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
        net = load_network_policy(network_config, managed_network)
        result = explain(policy, command, proxy=_explain_endpoints(net), environ=environ)
        result["network_policy"] = net.to_json()
        return result
    return explain(policy, command, environ=environ)


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
        ports = _seatbelt_ports(load_network_policy(network_config, managed_network))
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
    net = load_network_policy(network_config, managed_network)
    async with ProxyServer(net, codex_home=codex_home) as server:
        ports = [server.http_address[1]]
        if server.socks_address is not None:
            ports.append(server.socks_address[1])
        env.update(server.environment())
        return await launch(
            seatbelt_profile(plan, deny_read_globs=policy.deny_read, proxy_ports=ports)
        )
