"""`codex network check`: rendering, and a typer-free fast path for well-formed invocations.

Admins and CI jobs ask the policy one request at a time, so start-up is most of the cost
(benchmarks/startup_bench.py); typer and click cost more than the check. The dispatcher hands
``network check ARGS`` here first. Handled: any mix of the command's options (``--url``,
``-X/--method``, ``--connect``, ``--socks5``, ``--udp``, ``--resolve``, ``--config-file``,
``--json``, ``-C/--cd``, ``-c/--config``) with exactly one request described. Anything else --
help, an unknown option, a stray argument, a request that
:func:`~codex_admin.proxy.validate_request` or the ``--resolve`` parser rejects -- returns False
before loading any policy or printing anything, and the typer command answers it with its
usage error (exit 2). Both paths render with :func:`render_check`: exit 0 allow, 3 deny; a
CodexError exits 1 (with ``--json``: ``{"error": {...}}`` first).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from codex_admin.cli import context
from codex_admin.cli.fast_args import finish_command, parse_options
from codex_admin.cli.output import print_json, print_warnings
from codex_admin.errors import CodexError

if TYPE_CHECKING:
    from codex_admin.governance import Governance
    from codex_admin.proxy import CheckResult

__all__ = ["EXIT_DENIED", "evaluate_check", "render_check", "try_check"]

EXIT_DENIED = 3

# option -> (keyword, takes a value): the typer command's options
_OPTIONS: dict[str, tuple[str, bool]] = {
    "--url": ("url", True),
    "-X": ("method", True),
    "--method": ("method", True),
    "--connect": ("connect", True),
    "--socks5": ("socks5", True),
    "--udp": ("udp", False),
    "--resolve": ("resolve", True),
    "--config-file": ("config_file", True),
    "--json": ("json", False),
    "-C": ("cwd", True),
    "--cd": ("cwd", True),
    "-c": ("config", True),
    "--config": ("config", True),
}


def evaluate_check(
    governance: Governance,
    *,
    answers: dict[str, list[str]],
    config_file: Path | None,
    url: str | None,
    method: str,
    connect: str | None,
    socks5: str | None,
    udp: bool,
) -> tuple[CheckResult, list[str]]:
    """The proxy's verdict on one request under this governance, and the warnings to print.

    Raises RequestSyntaxError (a usage error) for a malformed request, CodexError for a bad
    policy (the fast path has checked the request already)."""
    from codex_admin.proxy import check_request_now

    policy, warnings = governance.network_policy(config_file=config_file, explicit=True)
    if url is None:
        method = "CONNECT" if connect is not None else "none"
    result = check_request_now(
        policy, answers, url=url, method=method, connect=connect, socks5=socks5, udp=udp
    )
    return result, [*governance.warnings, *warnings]


def render_check(result: CheckResult, json_out: bool) -> int:
    """Print the verdict (one JSON object, or one line); the exit code (0 allow, 3 deny)."""
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
    return 0 if payload["decision"] == "allow" else EXIT_DENIED


def try_check(args: Sequence[str]) -> bool:
    """Answer `codex network check ARGS` if well-formed (exits); False to defer to typer."""
    parsed = parse_options(args, _OPTIONS, repeatable=("config", "resolve"))
    if parsed is None or (parsed.get("udp") and "socks5" not in parsed):
        return False
    from codex_admin.proxy import parse_resolve_option, validate_request

    url, connect, socks5 = parsed.get("url"), parsed.get("connect"), parsed.get("socks5")
    method = parsed.get("method", "GET")
    try:
        validate_request(url=url, method=method, connect=connect, socks5=socks5)
        answers = parse_resolve_option(parsed["resolve"])
    except CodexError:
        return False  # a usage error: typer prints it with the usage line (exit 2)
    from codex_admin.governance import GovernanceRequest, load_governance

    json_out = bool(parsed.get("json"))
    request = GovernanceRequest(
        cwd=Path(parsed["cwd"]) if "cwd" in parsed else None,
        overrides=[*context.ROOT_OVERRIDES, *parsed["config"]],
    )

    def run() -> int:
        result, warnings = evaluate_check(
            load_governance(request),
            answers=answers,
            config_file=Path(parsed["config_file"]) if "config_file" in parsed else None,
            url=url,
            method=method,
            connect=connect,
            socks5=socks5,
            udp=bool(parsed.get("udp")),
        )
        print_warnings(warnings)
        return render_check(result, json_out)

    finish_command(run, json_out)
