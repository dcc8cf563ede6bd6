"""`codex guardian review | test | policy show`: the auto-reviewer from the command line.

Exit codes: 0 approved / every case passed; 3 the guardian said no (denied, timed out,
aborted) or a case failed; 1 bad input (a located error); 2 usage.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt, OverrideOpt, load_effective_config
from codex_admin.cli.output import print_json, print_warnings

app = make_app("Review actions with the guardian auto-reviewer; test and show its policy.")
policy_app = make_app("Show the guardian's effective policy text and where it comes from.")
app.add_typer(policy_app, name="policy")

EXIT_DENIED = 3

OfflineOpt = Annotated[
    bool,
    typer.Option(
        "--offline", help="Deterministic tier only: what it cannot decide is denied (fail closed)"
    ),
]


@app.callback()
def _group() -> None:
    """Review actions with the guardian auto-reviewer; test and show its policy."""


@app.command("review")
def review(
    json_out: JsonOpt = False,
    offline: OfflineOpt = False,
    cwd: CwdOpt = None,
    overrides: OverrideOpt = None,
) -> None:
    """Review one request read as JSON from stdin; exit 3 unless it is approved.

    Request: {"action": {"type": "shell"|"apply_patch"|"network_access", ...},
    "transcript": [{"role": "user", "text": "..."}], "sandbox_mode": "workspace-write"}.

    Example: codex guardian review --offline < request.json
    """
    from codex_admin.guardian import review_text

    result = load_effective_config(cwd, overrides)
    run = review_text(sys.stdin.read(), result, offline=offline)
    verdict = run.verdict
    if json_out:
        print_json(verdict.to_json())
    else:
        print_warnings(result.warnings)
        # A review that failed open says so on stderr too, as `codex exec` does (the error in
        # it may quote a provider's or the model's text: never raw to the terminal).
        from codex_admin.cli.exec_render import printable
        from codex_admin.guardian import GuardianWarning

        print_warnings(
            printable(e.message)
            for e in run.events
            if isinstance(e, GuardianWarning) and e.kind == "fail_open"
        )
        out = sys.stdout.write
        rule = f", rule {verdict.rule}" if verdict.rule else ""
        out(
            f"{verdict.outcome.value} ({verdict.status.value}; decided by"
            f" {verdict.decided_by.value}{rule})\n"
            f"risk: {verdict.risk_level.value}, authorization:"
            f" {verdict.user_authorization.value}\n{verdict.rationale}\n"
        )
    if not verdict.approved:
        raise typer.Exit(EXIT_DENIED)


DirArg = Annotated[
    list[Path], typer.Argument(metavar="PATH", help="Case files or directories of them")
]
JunitOpt = Annotated[bool, typer.Option("--junit", help="Print a JUnit XML report")]


@app.command("test")
def test(
    paths: DirArg,
    json_out: JsonOpt = False,
    junit: JunitOpt = False,
    offline: OfflineOpt = False,
    cwd: CwdOpt = None,
    overrides: OverrideOpt = None,
) -> None:
    """Run guardian regression cases (TOML or JSON); exit 3 when any case fails.

    Example: codex guardian test policies/guardian --offline
    """
    from codex_admin.guardian import test_cases

    if json_out and junit:
        raise typer.BadParameter("choose --json or --junit", param_hint="'--junit'")
    result = load_effective_config(cwd, overrides)
    report = test_cases(paths, result, offline=offline)
    if json_out:
        print_json(report.to_json())
    elif junit:
        sys.stdout.write(report.to_junit())
    else:
        out = sys.stdout.write
        for item in report.results:
            mark = "ok  " if item.passed else "FAIL"
            verdict = item.verdict
            how = verdict.rule or verdict.decided_by.value
            out(f"{mark} {item.case.name}  [{verdict.outcome.value} by {how}]\n")
            for problem in item.problems:
                out(f"     {problem}\n      in {item.case.file}\n")
        mode = " (offline)" if report.offline else ""
        out(f"\n{len(report.results) - report.failed} passed, {report.failed} failed{mode}\n")
    if not report.ok:
        raise typer.Exit(EXIT_DENIED)


@policy_app.callback()
def _policy() -> None:
    """Show the guardian's effective policy text and where it comes from."""


@policy_app.command("show")
def policy_show(
    json_out: JsonOpt = False, cwd: CwdOpt = None, overrides: OverrideOpt = None
) -> None:
    """The reviewer's policy text, part by part, with the source of each part.

    Example: codex guardian policy show --json
    """
    from codex_admin.guardian import guardian_settings

    result = load_effective_config(cwd, overrides)
    settings = guardian_settings(result)
    policy = settings.policy
    if json_out:
        data = policy.to_json()
        data.update(settings.to_json())
        print_json(data)
        return
    print_warnings(result.warnings)
    out = sys.stdout.write
    out(f"# review model: {settings.model}; timeout: {settings.timeout:g} s\n")
    failure = "approved (fail open)" if settings.fail_open else "denied (fail closed)"
    origin = f"; {settings.fail_open_source}" if settings.fail_open_source else ""
    flag = "true" if settings.fail_open else "false"
    out(f"# a failed review is {failure}: allow_guardian_fail_open = {flag}{origin}\n")
    for part in policy.parts:
        out(f"# {part.name}: {part.source}\n")
    for note in policy.notes:
        out(f"# note: {note}\n")
    out("\n" + policy.text)
