"""`codex network check`: would this request pass the effective network policy?

:func:`load_network_policy` is shared with `codex proxy run`, so the check and the running proxy
get the policy from the same governance call.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt, OverrideOpt, load_governance
from codex_admin.cli.output import print_json, print_warnings

if TYPE_CHECKING:
    from codex_admin.proxy import NetworkPolicy

app = make_app("Ask whether a request would pass the network policy.")


@app.callback()
def _group() -> None:
    """Ask whether a request would pass the network policy."""


EXIT_DENIED = 3


def load_network_policy(
    cwd: Path | None,
    overrides: list[str] | None,
    *,
    config_file: Path | None = None,
    network_changes: dict[str, Any] | None = None,
) -> tuple[NetworkPolicy, list[str]]:
    """The policy the proxy runs with (asked for explicitly: ``enabled`` defaults to true)."""
    governance = load_governance(cwd, overrides)
    policy, warnings = governance.network_policy(
        config_file=config_file, changes=network_changes, explicit=True
    )
    return policy, list(governance.warnings) + warnings


@app.command("check")
def check(
    url: Annotated[str | None, typer.Option("--url", help="http:// or https:// URL")] = None,
    method: Annotated[str, typer.Option("--method", "-X", help="HTTP method for --url")] = "GET",
    connect: Annotated[
        str | None, typer.Option("--connect", help="HOST:PORT as in an HTTP CONNECT")
    ] = None,
    socks5: Annotated[
        str | None, typer.Option("--socks5", help="HOST:PORT as in a SOCKS5 request")
    ] = None,
    udp: Annotated[bool, typer.Option("--udp", help="With --socks5: a UDP ASSOCIATE")] = False,
    resolve: Annotated[
        list[str] | None,
        typer.Option("--resolve", help="Answer DNS for HOST with IP[,IP...] (repeatable)"),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option("--config-file", help="TOML file whose [network] table replaces the config"),
    ] = None,
    json_out: JsonOpt = False,
    cwd: CwdOpt = None,
    config: OverrideOpt = None,
) -> None:
    """Evaluate one request exactly as the running proxy would (exit 0 allow, 3 deny)."""
    from codex_admin.proxy import (
        StaticResolver,
        SystemResolver,
        check_request,
        parse_resolve_option,
    )

    given = [
        name for name, v in (("--url", url), ("--connect", connect), ("--socks5", socks5)) if v
    ]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of --url, --connect or --socks5")
    if udp and socks5 is None:
        raise typer.BadParameter("--udp only applies to --socks5")
    policy, warnings = load_network_policy(cwd, config, config_file=config_file)
    resolver = StaticResolver(parse_resolve_option(resolve or []), fallback=SystemResolver())
    if url is None:
        method = "CONNECT" if connect is not None else "none"
    result = asyncio.run(
        check_request(
            policy,
            resolver=resolver,
            url=url,
            method=method,
            connect=connect,
            socks5=socks5,
            udp=udp,
        )
    )
    payload = result.to_json()
    if json_out:
        print_warnings(warnings)
        print_json(payload)
    else:
        print_warnings(warnings)
        target = f"{result.host}:{result.port}" if result.port else result.host
        if payload["decision"] == "allow":
            matched = payload["matched_pattern"]
            via = f" (matched {matched})" if matched else ""
            sys.stdout.write(f"allow {result.protocol} {target}{via}\n")
        else:
            status = payload["status"]
            header = payload["x_proxy_error"]
            extra = f", x-proxy-error: {header}" if header else ""
            message = result.decision.message if result.decision else "bad request"
            sys.stdout.write(
                f"deny {result.protocol} {target}: {payload['reason']} "
                f"(HTTP {status}{extra}) {message}\n"
            )
    if payload["decision"] != "allow":
        raise typer.Exit(EXIT_DENIED)
