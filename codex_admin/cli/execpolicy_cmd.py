"""`codex execpolicy check|explain|show|test|amend`: command rules for reviewers, CI and users.

`check` is Codex-compatible (same flags, JSON key order, exit 0 whatever the decision). The other
commands are additions: `explain` answers "what would the governed runtime do with this command"
(shell splitting, heuristics, reasons, amendments), `show` prints the evaluated policy, `test` runs
every rule example like a test suite (text, JSON or JUnit), and `amend` appends "always allow"
lines the way Codex does. The execpolicy library is imported inside each command so that `check`
does not pay for the config engine; `codex execpolicy check` itself is normally answered by the
typer-free fast path in `codex_admin.cli.execpolicy_fast`.
"""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt
from codex_admin.cli.output import print_json, print_warnings
from codex_admin.errors import CodexError
from codex_admin.vocabulary import ApprovalPolicy, SandboxMode, SandboxPermissions

if TYPE_CHECKING:
    from codex_admin.execpolicy import Policy

app = make_app("Check, explain, show, test and amend command rules (*.rules).")

_TRAILING = {"allow_interspersed_args": False, "ignore_unknown_options": True}

RulesOpt = Annotated[
    list[Path] | None,
    typer.Option("-r", "--rules", help="A rules file (repeatable; parsed in order)"),
]
ArgvArg = Annotated[list[str], typer.Argument(help="The command to evaluate", metavar="ARGV")]


class Format(enum.StrEnum):
    text = "text"
    json = "json"
    junit = "junit"


def _strip_separator(argv: list[str]) -> list[str]:
    return argv[1:] if argv and argv[0] == "--" else argv


@app.command("check", context_settings=_TRAILING)
def check(
    argv: ArgvArg,
    rules: Annotated[
        list[Path],
        typer.Option("-r", "--rules", help="A rules file (required, repeatable)"),
    ],
    resolve_host_executables: Annotated[
        bool,
        typer.Option(
            "--resolve-host-executables",
            help="Match /abs/path/prog against rules for `prog` (gated by host_executable)",
        ),
    ] = False,
    pretty: Annotated[bool, typer.Option("--pretty", help="Pretty-print the JSON")] = False,
) -> None:
    """Codex-compatible: print the matching rules and the strictest decision as JSON.

    Exit status is 0 whatever the decision; 1 when a rules file fails to load.
    """
    from codex_admin.cli.execpolicy_fast import render_check

    command = _strip_separator(argv)
    if not command:
        raise typer.BadParameter("a command is required", param_hint="ARGV...")
    sys.stdout.write(
        render_check([str(r) for r in rules], command, resolve_host_executables, pretty)
    )


def _configured_policy(cwd: Path | None) -> tuple[Policy, list[Path], dict[str, Any]]:
    """Discovered rules of the effective configuration plus requirement [rules]."""
    from codex_admin.cli.common import load_governance

    governance = load_governance(cwd)
    print_warnings(governance.warnings)
    return governance.rules, governance.rule_files, governance.config.resolved


def _policy(
    rules: list[Path] | None, cwd: Path | None
) -> tuple[Policy, list[Path], dict[str, Any]]:
    if rules:
        from codex_admin.execpolicy import load_policy_files

        return load_policy_files(rules), list(rules), {}
    return _configured_policy(cwd)


@app.command("explain", context_settings=_TRAILING)
def explain(
    argv: ArgvArg,
    rules: RulesOpt = None,
    cwd: CwdOpt = None,
    approval_policy: Annotated[
        ApprovalPolicy | None,
        typer.Option("--approval-policy", help="Default: the configuration's approval_policy"),
    ] = None,
    sandbox: Annotated[
        SandboxMode | None,
        typer.Option("--sandbox", help="Default: the configuration's sandbox_mode"),
    ] = None,
    escalated: Annotated[
        bool, typer.Option("--escalated", help="The command asks to run outside the sandbox")
    ] = False,
    additional: Annotated[
        bool,
        typer.Option(
            "--with-additional-permissions", help="The command asks for extra sandbox permissions"
        ),
    ] = False,
    requested_prefix_rule: Annotated[
        str | None,
        typer.Option(
            "--requested-prefix-rule", help='Prefix the model asks to allow, e.g. ["npm","test"]'
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """What the governed runtime would do with ARGV: skip, ask for approval, or refuse."""
    from codex_admin.execpolicy import evaluate_exec

    command = _strip_separator(argv)
    if not command:
        raise typer.BadParameter("a command is required", param_hint="ARGV...")
    if escalated and additional:
        raise typer.BadParameter(
            "use either --escalated or --with-additional-permissions", param_hint="--escalated"
        )
    requested: list[str] | None = None
    if requested_prefix_rule is not None:
        try:
            parsed = json.loads(requested_prefix_rule)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(t, str) for t in parsed):
            raise typer.BadParameter(
                "expected a JSON array of strings", param_hint="--requested-prefix-rule"
            )
        requested = parsed
    policy, files, resolved = _policy(rules, cwd)
    approval_text = approval_policy.value if approval_policy else resolved.get("approval_policy")
    sandbox_text = sandbox.value if sandbox else resolved.get("sandbox_mode")
    permissions = (
        SandboxPermissions.REQUIRE_ESCALATED
        if escalated
        else SandboxPermissions.WITH_ADDITIONAL_PERMISSIONS
        if additional
        else SandboxPermissions.USE_DEFAULT
    )
    result = evaluate_exec(
        policy,
        command,
        approval=ApprovalPolicy(approval_text or "on-request"),
        sandbox=SandboxMode.parse(sandbox_text or "workspace-write"),
        permissions=permissions,
        requested_prefix_rule=requested,
    )
    if json_out:
        print_json(result.to_json())
        return
    out = sys.stdout.write
    req = result.requirement
    out(f"command: {json.dumps(command, ensure_ascii=False)}\n")
    out(f"rules: {len(files)} file(s), {policy.rule_count} rule(s)\n")
    out(
        f"approval policy: {approval_text or 'on-request'}; "
        f"sandbox: {sandbox_text or 'workspace-write'}; permissions: {permissions.value}\n"
    )
    if result.used_complex_parsing:
        out("split: heredoc fallback (complex parsing: no amendments, no known-safe shortcut)\n")
    elif len(result.commands) > 1 or result.commands[0] != command:
        out(f"split into {len(result.commands)} command(s):\n")
    for sub in result.commands:
        out(f"  - {json.dumps(sub, ensure_ascii=False)}\n")
    for match in result.evaluation.matched_rules:
        data = match.to_json()
        if "prefixRuleMatch" in data:
            body = data["prefixRuleMatch"]
            rule = getattr(match, "rule", None)
            where = f" ({rule.source})" if rule is not None and rule.source else ""
            extra = f", resolved {body['resolvedProgram']}" if "resolvedProgram" in body else ""
            out(
                f"matched rule{where}: {json.dumps(body['matchedPrefix'], ensure_ascii=False)} -> "
                f"{body['decision']}{extra}\n"
            )
        else:
            body = data["heuristicsRuleMatch"]
            out(
                f"no rule for {json.dumps(body['command'], ensure_ascii=False)}; "
                f"heuristics -> {body['decision']}\n"
            )
    decision = result.evaluation.decision
    out(f"decision: {decision.value if decision else 'none'}\n")
    words = {
        "skip": "run without asking",
        "needs_approval": "ask for approval",
        "forbidden": "refuse",
    }
    out(f"runtime: {words[req.kind]}")
    if req.kind == "skip":
        out(" (outside the sandbox)" if req.bypass_sandbox else " (inside the sandbox)")
    out("\n")
    if req.reason:
        out(f"reason: {req.reason}\n")
    if req.proposed_amendment:
        out(f"proposed amendment: {json.dumps(req.proposed_amendment, ensure_ascii=False)}\n")


@app.command("show")
def show(rules: RulesOpt = None, cwd: CwdOpt = None, json_out: JsonOpt = False) -> None:
    """The evaluated policy: rules by program, network rules, domains, host executables."""
    policy, files, _ = _policy(rules, cwd)
    data = policy.to_json()
    if json_out:
        print_json(data)
        return
    out = sys.stdout.write
    out(f"{len(files)} rules file(s):\n")
    for path in files:
        out(f"  {path}\n")
    out(f"\nprefix rules ({policy.rule_count}):\n")
    for program, entries in data["rules"].items():
        out(f"  {program}\n")
        for entry in entries:
            shown = " ".join(
                t if isinstance(t, str) else "[" + "|".join(t) + "]" for t in entry["pattern"]
            )
            note = f"  # {entry['justification']}" if entry["justification"] else ""
            out(f"    {entry['decision']:<9} {shown}  ({entry['source']}){note}\n")
    if data["network_rules"]:
        out(f"\nnetwork rules ({len(data['network_rules'])}):\n")
        for rule in data["network_rules"]:
            out(f"  {rule['decision']:<9} {rule['protocol']:<10} {rule['host']}\n")
        out(f"allowed domains: {', '.join(data['allowed_domains']) or '(none)'}\n")
        out(f"denied domains: {', '.join(data['denied_domains']) or '(none)'}\n")
    if data["host_executables"]:
        out("\nhost executables:\n")
        for name, paths in data["host_executables"].items():
            out(f"  {name}: {', '.join(paths) or '(none: basename fallback blocked)'}\n")


@app.command("test")
def test(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Rules files or directories (default: the configuration's rules)"),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="text | json | junit")] = Format.text,
    cwd: CwdOpt = None,
) -> None:
    """Run every match/not_match example; report coverage and shadowed rules. Exit 1 on failure."""
    from codex_admin.execpolicy import run_policy_tests

    targets: list[Path]
    if paths:
        targets = list(paths)
    else:
        from codex_admin.cli.common import load_effective_config
        from codex_admin.execpolicy import discover_rule_files

        targets = discover_rule_files(load_effective_config(cwd).config_folders)
        if not targets:
            raise CodexError(
                "no rules files found in the configuration's rules/ folders",
                hint="pass rules files or directories: codex execpolicy test policies/",
            )
    report = run_policy_tests(targets)
    if fmt is Format.json:
        print_json(report.to_json())
    elif fmt is Format.junit:
        sys.stdout.write(report.to_junit())
    else:
        sys.stdout.write(report.to_text())
    if not report.ok:
        raise typer.Exit(1)


@app.command("amend", context_settings=_TRAILING)
def amend(
    prefix: Annotated[list[str] | None, typer.Argument(metavar="PREFIX")] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="Rules file to append to (default $CODEX_HOME/rules/default.rules)"
        ),
    ] = None,
    network: Annotated[
        str | None, typer.Option("--network", help="Append a network_rule for this host")
    ] = None,
    protocol: Annotated[str | None, typer.Option("--protocol", help="http | https")] = None,
    decision: Annotated[str | None, typer.Option("--decision", help="allow | deny | ask")] = None,
    justification: Annotated[str | None, typer.Option("--justification")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Append an "always allow" prefix_rule (or a network_rule) like Codex does."""
    from codex_admin.execpolicy import append_allow_prefix_rule, append_network_rule

    tokens = _strip_separator(prefix or [])
    if file is None:
        from codex_admin.config import codex_home

        file = codex_home() / "rules" / "default.rules"
    if network is not None:
        if tokens:
            raise typer.BadParameter("give either --network or a PREFIX, not both")
        if protocol is None or decision is None:
            raise typer.BadParameter("--network needs --protocol and --decision")
        written = append_network_rule(file, network, protocol, decision, justification)
    else:
        if protocol or decision or justification:
            raise typer.BadParameter("--protocol/--decision/--justification need --network")
        written = append_allow_prefix_rule(file, tokens)
    if json_out:
        print_json({"file": str(file), "written": written})
    else:
        state = "appended to" if written else "already present in"
        sys.stdout.write(f"{state} {file}\n")
