"""`codex doctor [--json]`: configuration, requirements, remote bundle, rules, sandbox, keyring,
proxy ports -- each problem with its fix. Exit 1 when any check is an error."""

from __future__ import annotations

import sys

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt, OverrideOpt, ProfileOpt, governance_request
from codex_admin.cli.output import print_json

app = make_app(None, invoke_without_command=True)  # help: the callback docstring

_MARK = {"ok": "ok   ", "info": "info ", "warn": "WARN ", "error": "ERROR"}


@app.callback()
def doctor(
    cwd: CwdOpt = None,
    overrides: OverrideOpt = None,
    profile: ProfileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check everything that decides whether Codex runs governed here, with fixes.

    Exit 0 when no check is an error (warnings included), 1 when one is.

    Example: codex doctor --json
    """
    from codex_admin.governance import run_doctor

    report = run_doctor(governance_request(cwd, overrides, profile=profile))
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
    if not report.ok:
        raise typer.Exit(1)
