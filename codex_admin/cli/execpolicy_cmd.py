"""`codex execpolicy check|explain|show|test|amend`: command rules for reviewers, CI and users.

`check` is Codex-compatible (same flags, JSON key order, exit 0 whatever the decision). The other
commands are additions: `explain` answers "what would the governed runtime do with this command"
(shell splitting, wrappers, heuristics, reasons, amendments; through `Governance.decide` unless
`-r` picks the rules), `show` prints the evaluated policy, `test` runs every rule example and
decision test like a test suite (text, JSON or JUnit; exit 3 on a failure), and `amend` appends
"always allow" lines the way Codex does. The execpolicy library is imported inside each command
so that `check` does not pay for the config engine; `codex execpolicy check` itself is normally
answered by the typer-free fast path in `codex_admin.cli.execpolicy_fast`.

Options come before the command: the command starts at `--` or at the first word that is not an
option, and an unknown option before it is a usage error (exit 2), never the command's first
word. Exit codes: 0 ok, 1 a user error (bad rules file, bad input), 2 usage, 3 `test` failures.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt
from codex_admin.cli.output import print_warnings
from codex_admin.errors import CodexError
from codex_admin.vocabulary import ApprovalPolicy, SandboxMode, SandboxPermissions

if TYPE_CHECKING:
    from codex_admin.execpolicy import Policy

app = make_app("Check, explain, show, test and amend command rules (*.rules).")

# The command starts at `--` or the first non-option; an unknown option before it is an error.
_TRAILING = {"allow_interspersed_args": False}

RulesOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "-r", "--rules", metavar="FILE", help="A rules file (repeatable; parsed in order)"
    ),
]
ArgvArg = Annotated[list[str], typer.Argument(help="The command to evaluate", metavar="ARGV")]


class Format(enum.StrEnum):
    text = "text"
    json = "json"
    junit = "junit"


def _strip_separator(argv: list[str]) -> list[str]:
    return argv[1:] if argv and argv[0] == "--" else argv


def _json(value: Any) -> None:
    from codex_admin.cli.execpolicy_fast import write_out

    write_out(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _text(text: str) -> None:
    from codex_admin.cli.execpolicy_fast import write_out

    write_out(text)


def _show_argv(argv: list[str]) -> str:
    return json.dumps(argv, ensure_ascii=False)


@app.command("check", context_settings=_TRAILING)
def check(
    argv: ArgvArg,
    rules: Annotated[
        list[Path],
        typer.Option("-r", "--rules", metavar="FILE", help="A rules file (required, repeatable)"),
    ],
    resolve_host_executables: Annotated[
        bool,
        typer.Option(
            "--resolve-host-executables",
            help="Match /abs/path/prog against rules for `prog` (gated by host_executable)",
        ),
    ] = False,
    pretty: Annotated[bool, typer.Option("--pretty", help="Pretty-print the JSON")] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Accepted for scripts: the output is always JSON")
    ] = False,
    config: Annotated[
        list[str] | None,
        typer.Option("-c", "--config", metavar="KEY=VALUE", help="Accepted and ignored (Codex)"),
    ] = None,
    enable: Annotated[
        list[str] | None,
        typer.Option("--enable", metavar="FEATURE", help="Accepted and ignored (Codex)"),
    ] = None,
    disable: Annotated[
        list[str] | None,
        typer.Option("--disable", metavar="FEATURE", help="Accepted and ignored (Codex)"),
    ] = None,
) -> None:
    """Codex-compatible: print the matching rules and the strictest decision as JSON.

    Options come first; the command starts at `--` or the first word that is not an option.
    Exit status is 0 whatever the decision; 1 when a rules file fails to load; 2 on usage
    errors (an unknown option, no -r, no command).

    Example: codex execpolicy check -r policies/git.rules -- git push origin main
    """
    from codex_admin.cli.execpolicy_fast import render_check, write_out

    command = _strip_separator(argv)
    if not command:
        raise typer.BadParameter("a command is required", param_hint="ARGV...")
    write_out(render_check([str(r) for r in rules], command, resolve_host_executables, pretty))


def _policy(rules: list[Path] | None, cwd: Path | None) -> tuple[Policy, list[Path]]:
    """The ``-r`` files, else the configuration's discovered rules plus requirement [rules]."""
    if rules:
        from codex_admin.execpolicy import load_policy_files

        return load_policy_files(rules), list(rules)
    from codex_admin.cli.common import load_governance

    governance = load_governance(cwd)
    print_warnings(governance.warnings)
    return governance.rules, governance.rule_files


@app.command("explain", context_settings=_TRAILING)
def explain(
    argv: ArgvArg,
    rules: RulesOpt = None,
    cwd: CwdOpt = None,
    approval_policy: Annotated[
        ApprovalPolicy | None,
        typer.Option(
            "--approval-policy",
            metavar="POLICY",
            help="untrusted | on-failure | on-request | never (default: the configuration's)",
        ),
    ] = None,
    sandbox: Annotated[
        SandboxMode | None,
        typer.Option(
            "--sandbox",
            metavar="MODE",
            help="read-only | workspace-write | danger-full-access | external-sandbox "
            "(default: the configuration's sandbox_mode)",
        ),
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
            "--requested-prefix-rule",
            metavar="JSON",
            help='Prefix the model asks to allow, e.g. ["npm","test"]',
        ),
    ] = None,
    no_sandbox_bypass: Annotated[
        bool,
        typer.Option(
            "--no-sandbox-bypass",
            help="As if requirements constrained the filesystem or network: an allow rule never "
            "runs a command outside the sandbox (automatic when they do)",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """What the governed runtime would do with ARGV: skip, ask for approval, or refuse.

    Example: codex execpolicy explain -r policies/git.rules -- bash -lc 'git status && git push'
    """
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
    permissions = (
        SandboxPermissions.REQUIRE_ESCALATED
        if escalated
        else SandboxPermissions.WITH_ADDITIONAL_PERMISSIONS
        if additional
        else SandboxPermissions.USE_DEFAULT
    )
    if rules:
        from codex_admin.execpolicy import load_policy_files

        policy = load_policy_files(rules)
        files: list[Path] = list(rules)
        approval_value = approval_policy or ApprovalPolicy.ON_REQUEST
        sandbox_value = sandbox or SandboxMode.WORKSPACE_WRITE
        result = evaluate_exec(
            policy,
            command,
            approval=approval_value,
            sandbox=sandbox_value,
            permissions=permissions,
            requested_prefix_rule=requested,
            sandbox_bypass=not no_sandbox_bypass,
        )
    else:
        from codex_admin.cli.common import load_governance

        governance = load_governance(cwd)
        print_warnings(governance.warnings)
        policy, files = governance.rules, governance.rule_files
        approval_value = approval_policy or governance.approval_policy
        sandbox_value = sandbox or governance.sandbox_mode
        result = governance.decide(
            command,
            permissions=permissions,
            requested_prefix_rule=requested,
            approval=approval_value,
            sandbox=sandbox_value,
            sandbox_bypass=not no_sandbox_bypass,
        )
    approval_text, sandbox_text = approval_value.value, sandbox_value.value
    if json_out:
        _json(result.to_json())
        return
    lines: list[str] = []
    out = lines.append
    req = result.requirement
    out(f"command: {_show_argv(command)}\n")
    out(f"rules: {len(files)} file(s), {policy.rule_count} rule(s)\n")
    out(
        f"approval policy: {approval_text}; sandbox: {sandbox_text}; "
        f"permissions: {permissions.value}; sandbox bypass: "
        f"{'allowed' if result.sandbox_bypass_allowed else 'never'}\n"
    )
    if result.used_complex_parsing:
        out("split: heredoc fallback (complex parsing: no amendments, no known-safe shortcut)\n")
    elif len(result.commands) > 1 or result.commands[0] != command:
        out(f"split into {len(result.commands)} command(s):\n")
    for sub in result.commands:
        out(f"  - {_show_argv(sub)}\n")
    for match in result.evaluation.matched_rules:
        data = match.to_json()
        if "prefixRuleMatch" in data:
            body = data["prefixRuleMatch"]
            rule = getattr(match, "rule", None)
            where = f" ({rule.source})" if rule is not None and rule.source else ""
            extra = f", resolved {body['resolvedProgram']}" if "resolvedProgram" in body else ""
            out(
                f"matched rule{where}: {_show_argv(body['matchedPrefix'])} -> "
                f"{body['decision']}{extra}\n"
            )
        else:
            body = data["heuristicsRuleMatch"]
            out(f"no rule for {_show_argv(body['command'])}; heuristics -> {body['decision']}\n")
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
    for note in result.notes:
        out(f"note: {note}\n")
    if req.proposed_amendment:
        out(f"proposed amendment: {_show_argv(req.proposed_amendment)}\n")
    _text("".join(lines))


@app.command("show")
def show(rules: RulesOpt = None, cwd: CwdOpt = None, json_out: JsonOpt = False) -> None:
    """The evaluated policy: rules by program, network rules, domains, host executables.

    Example: codex execpolicy show -r policies/git.rules --json
    """
    policy, files = _policy(rules, cwd)
    data = policy.to_json()
    if json_out:
        _json(data)
        return
    lines: list[str] = []
    out = lines.append
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
    _text("".join(lines))


@app.command("test")
def test(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH", help="Rules files, tests/*.toml decision tests, or directories"
        ),
    ] = None,
    fmt: Annotated[
        Format,
        typer.Option("--format", metavar="FORMAT", help="text | json | junit (json = --json)"),
    ] = Format.text,
    json_out: JsonOpt = False,
    cwd: CwdOpt = None,
) -> None:
    """Run every match/not_match example and tests/*.toml decision test; report coverage and
    shadowed rules. Exit 3 when a test fails (1 for bad input, 2 for usage).

    Example: codex execpolicy test policies/ --format junit > rules-report.xml
    """
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
    if json_out or fmt is Format.json:
        _json(report.to_json())
    elif fmt is Format.junit:
        _text(report.to_junit())
    else:
        _text(report.to_text())
    if not report.ok:
        raise typer.Exit(3)


@app.command("amend", context_settings=_TRAILING)
def amend(
    prefix: Annotated[
        list[str] | None, typer.Argument(metavar="PREFIX", help="The command prefix to allow")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            metavar="FILE",
            help="Rules file to append to (default $CODEX_HOME/rules/default.rules)",
        ),
    ] = None,
    network: Annotated[
        str | None,
        typer.Option("--network", metavar="HOST", help="Append a network_rule for this host"),
    ] = None,
    protocol: Annotated[
        str | None, typer.Option("--protocol", metavar="PROTOCOL", help="http | https")
    ] = None,
    decision: Annotated[
        str | None, typer.Option("--decision", metavar="DECISION", help="allow | deny | ask")
    ] = None,
    justification: Annotated[
        str | None,
        typer.Option("--justification", metavar="REASON", help="Why (shown when the rule applies)"),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Append an "always allow" prefix_rule (or a network_rule) like Codex does.

    Example: codex execpolicy amend -- npm run lint
    """
    from codex_admin.execpolicy import append_allow_prefix_rule, append_network_rule

    tokens = _strip_separator(prefix or [])
    for index, token in enumerate(
        [*tokens, network or "", protocol or "", decision or "", justification or ""]
    ):
        try:
            token.encode("utf-8")
        except UnicodeEncodeError:
            raise CodexError(
                f"argument {index + 1} ({token!r}) is not valid UTF-8",
                hint="rules files are UTF-8: a rule can only name UTF-8 arguments",
            ) from None
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
        _json({"file": str(file), "written": written})
    else:
        state = "appended to" if written else "already present in"
        _text(f"{state} {file}\n")
