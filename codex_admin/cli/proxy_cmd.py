"""`codex proxy run`: the managed proxy in the foreground with the effective network policy.

The policy comes from :meth:`~codex_admin.governance.Governance.network_policy` (``explicit``:
``enabled`` defaults to true), exactly as `codex network check` gets it. With ``--json`` the
first line on stdout is the listener/environment object, or the JSON error object when the
proxy cannot start (see :mod:`codex_admin.cli.json_errors`).
"""

from __future__ import annotations

import asyncio
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt, OverrideOpt, load_governance
from codex_admin.cli.json_errors import JsonErrorCommand, json_errors
from codex_admin.cli.output import print_json, print_warnings

if TYPE_CHECKING:
    # For annotations only: the proxy package is imported when the command runs.
    from codex_admin.proxy import NetworkPolicy, ProxyServer

app = make_app("Run the managed network proxy with a per-session CA.")


@app.callback()
def _group() -> None:
    """Run the managed network proxy with a per-session CA."""


def _address(text: str, option: str) -> tuple[str, int | None]:
    """``HOST:PORT``, ``[V6]:PORT``, ``HOST`` (ephemeral port) or ``PORT`` (on 127.0.0.1)."""
    value = text.strip()
    host: str
    port: str | None
    if value.isdigit():
        host, port = "127.0.0.1", value
    elif value.startswith("["):
        inside, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise typer.BadParameter(f"expected HOST:PORT, got {text!r}", param_hint=option)
        host, port = inside, rest[1:] or None
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, None  # a bare host, or an unbracketed IPv6 address
    if not host or (port is not None and (not port.isdigit() or int(port) > 65535)):
        raise typer.BadParameter(f"expected HOST:PORT, got {text!r}", param_hint=option)
    return host, None if port is None else int(port)


@app.command("run", cls=JsonErrorCommand)
def run(
    http: Annotated[
        str | None,
        typer.Option(
            "--http", metavar="HOST:PORT", help="HTTP listener address (default: ephemeral)"
        ),
    ] = None,
    socks: Annotated[
        str | None,
        typer.Option("--socks", metavar="HOST:PORT", help="SOCKS5 listener address"),
    ] = None,
    no_socks: Annotated[bool, typer.Option("--no-socks", help="Do not start SOCKS5")] = False,
    mode: Annotated[
        str | None, typer.Option("--mode", metavar="full|limited", help="Network mode")
    ] = None,
    mitm: Annotated[
        bool, typer.Option("--mitm", help="Inspect HTTPS with a per-session CA")
    ] = False,
    audit_log: Annotated[
        Path | None,
        typer.Option("--audit-log", metavar="FILE", help="Append one JSON line per decision"),
    ] = None,
    unix_dir: Annotated[
        Path | None,
        typer.Option(
            "--unix-dir", metavar="DIR", help="Also listen on http.sock/socks.sock in DIR"
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config-file",
            metavar="FILE",
            help="TOML file whose [network] table replaces the config",
        ),
    ] = None,
    dangerously_allow_non_loopback: Annotated[
        bool,
        typer.Option(
            "--dangerously-allow-non-loopback", help="Permit binding a non-loopback address"
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            metavar="N",
            help="Serve from N processes sharing the listeners (throughput on several cores)",
        ),
    ] = 1,
    json_out: JsonOpt = False,
    cwd: CwdOpt = None,
    config: OverrideOpt = None,
) -> None:
    """Run until SIGINT/SIGTERM; print the environment a client needs first.

    Example: codex proxy run --mode limited --config-file proxy/strict-limited.toml
    """
    from codex_admin.config import codex_home
    from codex_admin.proxy import ProxyServer, run_on_event_loop, serve_in_workers

    with json_errors(json_out, command="codex proxy run"):
        if mode is not None and mode not in ("full", "limited"):
            raise typer.BadParameter(f"{mode!r} is not one of full, limited", param_hint="--mode")
        http_host, http_port = _address(http, "--http") if http else ("127.0.0.1", None)
        socks_host, socks_port = _address(socks, "--socks") if socks else ("127.0.0.1", None)
        changes: dict[str, Any] = {}
        if mode is not None:
            changes["mode"] = mode
        if mitm:
            changes["mitm"] = True
        governance = load_governance(cwd, config)
        policy, warnings = governance.network_policy(
            config_file=config_file, changes=changes, explicit=True
        )
        print_warnings([*governance.warnings, *warnings])
        http_bind = (http_host, policy.listener_port("http", http_port))
        socks_bind: tuple[str, int] | None = None
        if not no_socks and policy.enable_socks5:
            socks_bind = (socks_host, policy.listener_port("socks", socks_port))
        server = ProxyServer(
            policy,
            codex_home=codex_home(),
            http_bind=http_bind,
            socks_bind=socks_bind,
            unix_socket_dir=unix_dir,
            audit_log=audit_log,
            allow_non_loopback=dangerously_allow_non_loopback,
        )
        if workers == 1:
            run_on_event_loop(lambda: _serve(server, policy, json_out=json_out, workers=1))
            return
        blocked = serve_in_workers(
            server,
            workers,
            on_ready=lambda: _announce(server, policy, json_out=json_out, workers=workers),
        )
        sys.stderr.write(f"codex proxy: stopped ({blocked} blocked)\n")


async def _serve(
    server: ProxyServer, policy: NetworkPolicy, *, json_out: bool, workers: int
) -> None:
    # Loaded already, by `run`; importing the proxy at module level would slow every command.
    from codex_admin.proxy import freeze_start_up_heap

    await server.start()
    freeze_start_up_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        _announce(server, policy, json_out=json_out, workers=workers)
        await stop.wait()
    finally:
        await server.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        sys.stderr.write(f"codex proxy: stopped ({server.audit.blocked_total} blocked)\n")


def _announce(server: ProxyServer, policy: NetworkPolicy, *, json_out: bool, workers: int) -> None:
    """Print the start-up warnings, then the listener/environment object (or shell lines)."""
    print_warnings(server.warnings)
    env = server.environment()
    if json_out:
        print_json(
            {
                "http": server.http_url,
                "socks": server.socks_url,
                "http_unix_socket": str(server.http_unix_path) if server.http_unix_path else None,
                "socks_unix_socket": (
                    str(server.socks_unix_path) if server.socks_unix_path else None
                ),
                "mode": policy.mode,
                "mitm": server.mitm,
                "ca_certificate": str(server.ca_cert_path) if server.ca_cert_path else None,
                "ca_bundle": str(server.ca_bundle_path) if server.ca_bundle_path else None,
                "upstream_proxy": server.upstream.describe(),
                "workers": workers,
                "env": env,
            },
            pretty=False,
        )
    else:
        out = sys.stdout.write
        out(f"# codex proxy: http {server.http_url}")
        out(f", socks {server.socks_url}" if server.socks_url else "")
        out(f", mode {policy.mode}, inspection {'on' if server.mitm else 'off'}")
        out(f", {workers} workers\n" if workers > 1 else "\n")
        if server.ca_bundle_path:
            out(f"# session CA bundle: {server.ca_bundle_path}\n")
        for kind, route in server.upstream.describe().items():
            if route:
                out(f"# upstream {kind} proxy: {route}\n")
        for key, value in env.items():
            out(f"export {key}={shlex.quote(value)}\n")
        out("# Ctrl-C to stop\n")
    sys.stdout.flush()
