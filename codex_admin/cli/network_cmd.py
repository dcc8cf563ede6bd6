"""`codex network check`: would this request pass the effective network policy?

The policy comes from the same governance call `codex proxy run` makes
(:meth:`~codex_admin.governance.Governance.network_policy` with ``explicit=True``); the verdict
from the same :func:`~codex_admin.proxy.check_request` the proxy's decision code runs. Exit
status: 0 allow, 3 deny, 1 user error (bad configuration), 2 usage error; with ``--json`` a
failure prints ``{"error": {...}}`` (see :mod:`codex_admin.cli.json_errors`).

Well-formed invocations are answered by :mod:`.network_fast` without typer; this command answers
the rest (help, usage errors) and renders the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt, OverrideOpt, load_governance
from codex_admin.cli.json_errors import JsonErrorCommand, json_errors
from codex_admin.cli.network_fast import evaluate_check, render_check
from codex_admin.cli.output import print_warnings

app = make_app("Ask whether a request would pass the network policy.")


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
    from codex_admin.proxy import RequestSyntaxError, parse_resolve_option

    with json_errors(json_out, usage=(RequestSyntaxError,), command="codex network check"):
        given = [n for n, v in (("--url", url), ("--connect", connect), ("--socks5", socks5)) if v]
        if len(given) != 1:
            raise typer.BadParameter("give exactly one of --url, --connect or --socks5")
        if udp and socks5 is None:
            raise typer.BadParameter("--udp only applies to --socks5", param_hint="--udp")
        answers = parse_resolve_option(resolve or [])
        result, warnings = evaluate_check(
            load_governance(cwd, config),
            answers=answers,
            config_file=config_file,
            url=url,
            method=method,
            connect=connect,
            socks5=socks5,
            udp=udp,
        )
    print_warnings(warnings)
    code = render_check(result, json_out)
    if code:
        raise typer.Exit(code)
