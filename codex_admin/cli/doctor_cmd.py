"""`codex doctor [--json]`: configuration, requirements, remote bundle, rules, sandbox, keyring,
proxy ports -- each problem with its fix. Exit 1 when any check is an error.

Well-formed invocations are answered by :mod:`.doctor_fast` without typer; this command answers
the rest (help, usage errors) and renders the same way."""

from __future__ import annotations

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt, OverrideOpt, ProfileOpt, governance_request
from codex_admin.cli.doctor_fast import render_doctor

app = make_app(None, invoke_without_command=True)  # help: the callback docstring


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
    if render_doctor(report, json_out):
        raise typer.Exit(1)
