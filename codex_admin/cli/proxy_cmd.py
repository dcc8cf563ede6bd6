"""`codex proxy run`: the managed proxy in the foreground with the effective network policy."""

from __future__ import annotations

import asyncio
import shlex
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt, OverrideOpt
from codex_admin.cli.output import print_json, print_warnings

app = make_app("Run the managed network proxy with a per-session CA.")


@app.callback()
def _group() -> None:
    """Run the managed network proxy with a per-session CA."""


def _address(text: str, option: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]") if sep else "127.0.0.1"
    port = port if sep else text
    if not port.isdigit() or not 0 <= int(port) <= 65535 or not host:
        raise typer.BadParameter(f"expected HOST:PORT, got {text!r}", param_hint=option)
    return host, int(port)


@app.command("run")
def run(
    http: Annotated[
        str | None,
        typer.Option("--http", help="HOST:PORT for the HTTP listener (default ephemeral)"),
    ] = None,
    socks: Annotated[
        str | None, typer.Option("--socks", help="HOST:PORT for the SOCKS5 listener")
    ] = None,
    no_socks: Annotated[bool, typer.Option("--no-socks", help="Do not start SOCKS5")] = False,
    mode: Annotated[str | None, typer.Option("--mode", help="full | limited")] = None,
    mitm: Annotated[
        bool, typer.Option("--mitm", help="Inspect HTTPS with a per-session CA")
    ] = False,
    audit_log: Annotated[
        Path | None, typer.Option("--audit-log", help="Append one JSON line per decision")
    ] = None,
    unix_dir: Annotated[
        Path | None, typer.Option("--unix-dir", help="Also listen on http.sock/socks.sock here")
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option("--config-file", help="TOML file whose [network] table replaces the config"),
    ] = None,
    dangerously_allow_non_loopback: Annotated[
        bool,
        typer.Option(
            "--dangerously-allow-non-loopback", help="Permit binding a non-loopback address"
        ),
    ] = False,
    json_out: JsonOpt = False,
    cwd: CwdOpt = None,
    config: OverrideOpt = None,
) -> None:
    """Run until SIGINT/SIGTERM; print the environment a client needs first."""
    from codex_admin.cli.network_cmd import load_network_policy
    from codex_admin.config import codex_home

    if mode is not None and mode not in ("full", "limited"):
        raise typer.BadParameter(f"{mode!r} is not one of full, limited", param_hint="--mode")
    changes: dict[str, Any] = {}
    if mode is not None:
        changes["mode"] = mode
    if mitm:
        changes["mitm"] = True
    policy, warnings = load_network_policy(
        cwd, config, config_file=config_file, network_changes=changes
    )
    print_warnings(warnings)
    http_bind = _address(http, "--http") if http else ("127.0.0.1", policy.http_port or 0)
    socks_bind: tuple[str, int] | None = None
    if not no_socks and policy.enable_socks5:
        socks_bind = _address(socks, "--socks") if socks else ("127.0.0.1", policy.socks_port or 0)
    asyncio.run(
        _serve(
            policy,
            home=codex_home(),
            http_bind=http_bind,
            socks_bind=socks_bind,
            unix_dir=unix_dir,
            audit_log=audit_log,
            allow_non_loopback=dangerously_allow_non_loopback,
            json_out=json_out,
        )
    )


async def _serve(
    policy: Any,
    *,
    home: Path,
    http_bind: tuple[str, int],
    socks_bind: tuple[str, int] | None,
    unix_dir: Path | None,
    audit_log: Path | None,
    allow_non_loopback: bool,
    json_out: bool,
) -> None:
    from codex_admin.proxy import ProxyServer

    server = ProxyServer(
        policy,
        codex_home=home,
        http_bind=http_bind,
        socks_bind=socks_bind,
        unix_socket_dir=unix_dir,
        audit_log=audit_log,
        allow_non_loopback=allow_non_loopback,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    print_warnings(server.warnings)
    try:
        env = server.environment()
        if json_out:
            print_json(
                {
                    "http": server.http_url,
                    "socks": server.socks_url,
                    "http_unix_socket": str(server.http_unix_path)
                    if server.http_unix_path
                    else None,
                    "socks_unix_socket": (
                        str(server.socks_unix_path) if server.socks_unix_path else None
                    ),
                    "mode": policy.mode,
                    "mitm": server.mitm,
                    "ca_certificate": str(server.ca_cert_path) if server.ca_cert_path else None,
                    "ca_bundle": str(server.ca_bundle_path) if server.ca_bundle_path else None,
                    "upstream_proxy": server.upstream.describe(),
                    "env": env,
                },
                pretty=False,
            )
        else:
            out = sys.stdout.write
            out(f"# codex proxy: http {server.http_url}")
            out(f", socks {server.socks_url}" if server.socks_url else "")
            out(f", mode {policy.mode}, inspection {'on' if server.mitm else 'off'}\n")
            if server.ca_bundle_path:
                out(f"# session CA bundle: {server.ca_bundle_path}\n")
            for kind, route in server.upstream.describe().items():
                if route:
                    out(f"# upstream {kind} proxy: {route}\n")
            for key, value in env.items():
                out(f"export {key}={shlex.quote(value)}\n")
            out("# Ctrl-C to stop\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await server.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        sys.stderr.write(f"codex proxy: stopped ({server.audit.blocked_total} blocked)\n")
