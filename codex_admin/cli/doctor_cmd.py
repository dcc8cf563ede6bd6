"""`codex doctor [--json]`: configuration, requirements, remote bundle, rules, sandbox, keyring,
proxy ports -- each problem with its fix. Exit 1 when any check is an error."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt, OverrideOpt, ProfileOpt, governance_request
from codex_admin.cli.output import print_json
from codex_admin.errors import CodexError

if TYPE_CHECKING:
    from codex_admin.governance import Check, Governance

app = make_app(
    "Diagnose configuration, requirements, rules, sandbox and proxy.", invoke_without_command=True
)

_MARK = {"ok": "ok   ", "info": "info ", "warn": "WARN ", "error": "ERROR"}


def _credentials_check(governance: Governance | None) -> Check:
    """Which credential store is in use and whether a login exists (never the secret): owned
    by the auth package, which sits above governance, so the CLI passes it in."""
    from codex_admin.auth import auth_settings, describe_credentials
    from codex_admin.config import codex_home
    from codex_admin.governance import Check

    try:
        if governance is None:
            settings = auth_settings({}, codex_home=codex_home())
        else:
            result = governance.config
            settings = auth_settings(
                result.config, codex_home=result.codex_home, requirements=result.requirements
            )
        info = describe_credentials(settings)
    except CodexError as err:
        return Check("credentials", "warn", err.message, {"error": err.to_json()}, err.hint)
    where = info.get("location") or info.get("store")
    store = info.get("store")
    if info.get("error"):
        fix = info.get("hint") or "run `codex login status` for details"
        return Check("credentials", "warn", f"credential store {store}: {info['error']}", info, fix)
    if info.get("restriction"):
        return Check(
            "credentials", "warn", str(info["restriction"]), info, "sign in again: `codex login`"
        )
    if info.get("logged_in"):
        summary = f"logged in ({info.get('auth_mode')}); store {store}: {where}"
        return Check("credentials", "ok", summary, info)
    return Check(
        "credentials",
        "info",
        f"not logged in; store {store}: {where}",
        info,
        "`codex login` (or `printenv OPENAI_API_KEY | codex login --with-api-key`) when the"
        " provider needs the Codex login",
    )


@app.callback()
def doctor(
    cwd: CwdOpt = None,
    overrides: OverrideOpt = None,
    profile: ProfileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check everything that decides whether Codex runs governed here, with fixes."""
    from codex_admin.governance import run_doctor

    report = run_doctor(
        governance_request(cwd, overrides, profile=profile), extra_checks=(_credentials_check,)
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
