"""`codex network check`: would this request pass the effective network policy?

The policy comes from the same governance call `codex proxy run` makes
(:meth:`~codex_admin.governance.Governance.network_policy` with ``explicit=True``); the verdict
from the same :func:`~codex_admin.proxy.check_request` the proxy's decision code runs. Exit
status: 0 allow, 3 deny, 1 user error (bad configuration), 2 usage error; with ``--json`` a
failure prints ``{"error": {...}}`` (see :mod:`codex_admin.cli.json_errors`).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt, OverrideOpt, load_governance
from codex_admin.cli.json_errors import JsonErrorCommand, json_errors
from codex_admin.cli.output import print_json, print_warnings

app = make_app("Ask whether a request would pass the network policy.")

EXIT_DENIED = 3


@app.callback()
def _group() -> None:
    """Ask whether a request would pass the network policy."""


@app.command("check", cls=JsonErrorCommand)
def check(
    url: Annotated[
        str | None, typer.Option("--url", metavar="URL", help="http:// or https:// URL")
    ] = None,
    method: Annotated[
        str, typer.Option("--method", "-X", metavar="METHOD", help="HTTP method for --url")
    ] = "GET",
    connect: Annotated[
        str | None,
        typer.Option("--connect", metavar="HOST:PORT", help="HOST:PORT as in an HTTP CONNECT"),
    ] = None,
    socks5: Annotated[
        str | None,
        typer.Option("--socks5", metavar="HOST:PORT", help="HOST:PORT as in a SOCKS5 request"),
    ] = None,
    udp: Annotated[bool, typer.Option("--udp", help="With --socks5: a UDP ASSOCIATE")] = False,
    resolve: Annotated[
        list[str] | None,
        typer.Option(
            "--resolve",
            metavar="HOST=IP[,IP...]",
            help="Answer DNS for HOST with these addresses (repeatable; none: no answer)",
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
    json_out: JsonOpt = False,
    cwd: CwdOpt = None,
    config: OverrideOpt = None,
) -> None:
    """Evaluate one request exactly as the running proxy would (exit 0 allow, 3 deny).

    Example: codex network check --config-file proxy/org-allowlist.toml
    --url https://api.example.com/v1 --resolve api.example.com=93.184.216.34
    """
    from codex_admin.proxy import (
        RequestSyntaxError,
        StaticResolver,
        SystemResolver,
        check_request,
        parse_resolve_option,
    )

    with json_errors(json_out, usage=(RequestSyntaxError,), command="codex network check"):
        given = [n for n, v in (("--url", url), ("--connect", connect), ("--socks5", socks5)) if v]
        if len(given) != 1:
            raise typer.BadParameter("give exactly one of --url, --connect or --socks5")
        if udp and socks5 is None:
            raise typer.BadParameter("--udp only applies to --socks5", param_hint="--udp")
        answers = parse_resolve_option(resolve or [])
        governance = load_governance(cwd, config)
        policy, warnings = governance.network_policy(config_file=config_file, explicit=True)
        print_warnings([*governance.warnings, *warnings])
        if url is None:
            method = "CONNECT" if connect is not None else "none"
        result = asyncio.run(
            check_request(
                policy,
                resolver=StaticResolver(answers, fallback=SystemResolver()),
                url=url,
                method=method,
                connect=connect,
                socks5=socks5,
                udp=udp,
            )
        )
    payload = result.to_json()
    if json_out:
        print_json(payload)
    else:
        target = f"{result.host}:{result.port}" if result.port else result.host
        if payload["decision"] == "allow":
            matched = payload["matched_pattern"]
            via = f" (matched {matched})" if matched else ""
            sys.stdout.write(f"allow {result.protocol} {target}{via}\n")
        else:
            header = payload["x_proxy_error"]
            extra = f", x-proxy-error: {header}" if header else ""
            sys.stdout.write(
                f"deny {result.protocol} {target}: {payload['reason']} "
                f"(HTTP {payload['status']}{extra}) {result.message}\n"
            )
    if payload["decision"] != "allow":
        raise typer.Exit(EXIT_DENIED)
