"""`codex doctor [--json]`: configuration, requirements, remote bundle, rules, sandbox, keyring,
proxy ports -- each problem with its fix. Exit 1 when any check is an error."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt, OverrideOpt, ProfileOpt, load_effective_config
from codex_admin.cli.output import print_json

app = make_app(
    "Diagnose configuration, requirements, rules, sandbox and proxy.", invoke_without_command=True
)

_MARK = {"ok": "ok   ", "info": "info ", "warn": "WARN ", "error": "ERROR"}


def _sandbox_probe() -> Any:
    """The sandbox package's own availability check when it is installed (else None)."""
    try:
        sandbox = importlib.import_module("codex_admin.sandbox")
    except ImportError:
        return None
    status = getattr(sandbox, "bwrap_status", None)
    if status is None:
        return None
    return lambda: status().to_json()


def _credentials_probe(result: Any) -> dict[str, Any]:
    """The auth package's description of the credential store and login (no secret)."""
    from codex_admin.auth import auth_settings, describe_credentials
    from codex_admin.config import codex_home

    if result is None:
        return describe_credentials(auth_settings({}, codex_home=codex_home()))
    settings = auth_settings(
        result.config, codex_home=result.codex_home, requirements=result.requirements
    )
    return describe_credentials(settings)


@app.callback()
def doctor(
    cwd: CwdOpt = None,
    overrides: OverrideOpt = None,
    profile: ProfileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check everything that decides whether Codex runs governed here, with fixes."""
    from codex_admin.managed.doctor import run_doctor

    report = run_doctor(
        lambda: load_effective_config(cwd, overrides, profile=profile),
        sandbox_probe=_sandbox_probe(),
        credentials_probe=_credentials_probe,
    )
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
