"""`codex doctor`: rendering, and a typer-free fast path for well-formed invocations.

`doctor` is what an admin (or a fleet script) runs to learn whether Codex is governed on a
machine, and its start-up is measured (benchmarks/startup_bench.py); typer and click cost more
than most of its checks. The dispatcher hands ``doctor ARGS`` here first. Handled: any mix of
``--json``, ``-C/--cd DIR``, ``-c/--config KEY=VALUE``, ``-p/--profile NAME`` (``--opt=value``
and ``-xVALUE`` forms too). Anything else -- help, an unknown option, a stray argument --
returns False and the typer command answers it, so usage errors still exit 2 with click's
message. Both paths render with :func:`render_doctor`: exit 0 when no check is an error, 1 when
one is; a CodexError escaping the checks exits 1 (with ``--json``: ``{"error": {...}}`` first).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from codex_admin.cli import context
from codex_admin.cli.fast_args import finish_command, parse_options
from codex_admin.cli.output import print_json

if TYPE_CHECKING:
    from codex_admin.governance import DoctorReport

__all__ = ["render_doctor", "try_doctor"]

_MARK = {"ok": "ok   ", "info": "info ", "warn": "WARN ", "error": "ERROR"}

# option -> (keyword, takes a value): the typer command's options
_OPTIONS: dict[str, tuple[str, bool]] = {
    "--json": ("json", False),
    "-C": ("cwd", True),
    "--cd": ("cwd", True),
    "-c": ("config", True),
    "--config": ("config", True),
    "-p": ("profile", True),
    "--profile": ("profile", True),
}


def render_doctor(report: DoctorReport, json_out: bool) -> int:
    """Print the report (one JSON object, or a line per check and the fixes); the exit code."""
    if json_out:
        print_json(report.to_json())
    else:
        out = sys.stdout.write
        for check in report.checks:
            out(f"{_MARK.get(check.status, check.status)} {check.name:<13} {check.summary}\n")
            if check.fix:
                out(f"      fix: {check.fix}\n")
        problems = sum(1 for c in report.checks if c.status in ("warn", "error"))
        out(f"\n{problems} problem(s) found\n" if problems else "\nno problems found\n")
    return 0 if report.ok else 1


def try_doctor(args: Sequence[str]) -> bool:
    """Answer `codex doctor ARGS` if well-formed (exits 1 when a check is an error); False to
    defer to typer."""
    parsed = parse_options(args, _OPTIONS, repeatable=("config",))
    if parsed is None:
        return False
    from codex_admin.governance import GovernanceRequest, run_doctor

    request = GovernanceRequest(
        cwd=Path(parsed["cwd"]) if "cwd" in parsed else None,
        overrides=[*context.ROOT_OVERRIDES, *parsed["config"]],
        profile=parsed.get("profile"),
    )
    json_out = bool(parsed.get("json"))
    finish_command(lambda: render_doctor(run_doctor(request), json_out), json_out)
