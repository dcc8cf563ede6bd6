"""The one entry point the CLI (and the agent) call: run a command under a policy, starting the
session proxy first when the network mode is ``proxy``.

The proxy runs in the caller's asyncio loop next to the command (no threads). It listens on Unix
sockets in a private directory (mode 0700) that is bound read-only into the sandbox; the bridge
inside the network namespace forwards 127.0.0.1 ports to them. The session CA key stays in the
proxy's memory; only the CA *bundle* (certificates) is exposed to the command.
"""

from __future__ import annotations

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

__all__ = ["explain_command", "macos_profile", "run_command", "run_command_macos"]


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
    """Run ``command``; in proxy mode wrap the run in a session :class:`ProxyServer`.

    ``proxy_options`` are passed to :class:`ProxyServer` (resolver, audit_log,
    upstream_ssl_context, ...) for embedding and tests.
    """
    io: dict[str, Any] = {
        "timeout": timeout,
        "forward_signals": forward_signals,
        "environ": environ,
        "stdin": stdin,
        "stdout": stdout,
        "stderr": stderr,
    }
    if policy.network is not NetworkMode.PROXY:
        return await run_sandboxed(policy, command, **io)
    net = build_network_policy(network_config, managed_network)
    with tempfile.TemporaryDirectory(prefix="codex-proxy-") as session_dir:
        server = ProxyServer(
            net,
            codex_home=codex_home,
            unix_socket_dir=Path(session_dir),
            **dict(proxy_options or {}),
        )
        async with server:
            if server.http_unix_path is None:
                raise CodexError("the session proxy did not open its Unix socket")
            endpoints = ProxyEndpoints(
                http_unix_path=server.http_unix_path,
                socks_unix_path=server.socks_unix_path,
                ca_bundle=server.ca_bundle_path,
                environment=partial(
                    proxy_environment,
                    allow_local_binding=net.allow_local_binding,
                    ca_bundle=server.ca_bundle_path,
                ),
            )
            return await run_sandboxed(policy, command, proxy=endpoints, **io)


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
