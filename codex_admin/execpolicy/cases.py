"""Decision tests for rules: ``tests/*.toml`` files beside the ``*.rules`` they test.

Codex's ``match``/``not_match`` examples only say whether *a* rule matches, so flipping ``git
push`` from ``prompt`` to ``allow`` still passes them; and Codex refuses any other kind of example
inside a rules file (``invalid example: example must be a string or list of strings (got
dict)``, checked with Codex 0.169.0), so decision assertions cannot live there if the packs are
to keep loading in Codex. They live in a TOML file instead (the conftest layout)::

    # policies/tests/git.toml
    rules = ["../git.rules"]        # optional; default: every *.rules beside the tests/ folder

    [defaults]                      # optional, for every case
    approval_policy = "on-request"  # untrusted | on-failure | on-request | never
    sandbox_mode = "workspace-write"
    sandbox_bypass = true           # false: requirements constrain the filesystem or network

    [[case]]
    cmd = "git push origin main"    # a shell-quoted string or an argv array
    decision = "prompt"             # the rules' strictest decision, as `check` reports it with
                                    # host-executable resolution: allow | prompt | forbidden | none

    [[case]]
    name = "an escaped push inside a script"
    cmd = ["bash", "-lc", "git pu\\\\sh"]
    runtime = "forbidden"           # what the governed runtime does: skip | needs_approval |
                                    # forbidden (`codex execpolicy explain`)
    bypass_sandbox = false          # with runtime = "skip": whether it runs outside the sandbox

A case needs ``decision`` or ``runtime`` (or both). ``codex execpolicy test DIR`` runs every
``tests/*.toml`` under DIR; a ``.toml`` path runs that file. Unknown keys and bad values are
located errors with a suggestion.
"""

from __future__ import annotations

import difflib
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_admin.errors import CodexError, Location
from codex_admin.execpolicy.decide import evaluate_exec
from codex_admin.execpolicy.files import read_rules_file
from codex_admin.execpolicy.parser import PolicyParser
from codex_admin.execpolicy.policy import Policy
from codex_admin.vocabulary import ApprovalPolicy, SandboxMode

__all__ = ["Case", "CaseFile", "CaseResult", "load_case_file", "run_case_file"]

_TOP = ("rules", "defaults", "case")
_SETTINGS = ("approval_policy", "sandbox_mode", "sandbox_bypass")
_CASE = ("name", "cmd", "decision", "runtime", "bypass_sandbox", *_SETTINGS)
_DECISIONS = ("allow", "prompt", "forbidden", "none")
_RUNTIMES = ("skip", "needs_approval", "forbidden")
_CASE_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*case[ \t]*\]\]", re.MULTILINE)
_MAX_BYTES = 4 * 1024 * 1024


@dataclass
class Case:
    line: int | None
    name: str | None
    cmd: list[str]
    decision: str | None
    runtime: str | None
    bypass_sandbox: bool | None
    approval: ApprovalPolicy
    sandbox: SandboxMode
    sandbox_bypass: bool

    @property
    def label(self) -> str:
        return self.name or shlex.join(self.cmd)


@dataclass
class CaseResult:
    case: Case
    decision: str
    runtime: str
    bypass_sandbox: bool
    message: str | None = None

    @property
    def status(self) -> str:
        return "pass" if self.message is None else "fail"


@dataclass
class CaseFile:
    path: str
    rules: list[Path]
    cases: list[Case] = field(default_factory=list)
    error: str | None = None
    results: list[CaseResult] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return (1 if self.error else 0) + sum(1 for r in self.results if r.status == "fail")


def _unknown(key: str, known: tuple[str, ...], where: Location, what: str) -> CodexError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean `{close[0]}`?" if close else f"known keys: {', '.join(known)}"
    return CodexError(f"unknown key `{key}` in {what}", location=where, hint=hint)


def _choice(value: Any, choices: tuple[str, ...], key: str, where: Location) -> str:
    if not isinstance(value, str) or value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f"did you mean `{close[0]}`?" if close else f"use one of: {', '.join(choices)}"
        raise CodexError(f"`{key}` must be one of {', '.join(choices)}", location=where, hint=hint)
    return value


def _settings(table: dict[str, Any], base: dict[str, Any], where: Location) -> dict[str, Any]:
    merged = dict(base)
    if "approval_policy" in table:
        merged["approval"] = ApprovalPolicy(
            _choice(table["approval_policy"], tuple(p.value for p in ApprovalPolicy),
                    "approval_policy", where)
        )  # fmt: skip
    if "sandbox_mode" in table:
        merged["sandbox"] = SandboxMode(
            _choice(table["sandbox_mode"], tuple(m.value for m in SandboxMode), "sandbox_mode",
                    where)
        )  # fmt: skip
    if "sandbox_bypass" in table:
        if not isinstance(table["sandbox_bypass"], bool):
            raise CodexError("`sandbox_bypass` must be true or false", location=where)
        merged["sandbox_bypass"] = table["sandbox_bypass"]
    return merged


def _cmd(value: Any, where: Location) -> list[str]:
    if isinstance(value, str):
        try:
            tokens = shlex.split(value)
        except ValueError:
            raise CodexError("`cmd` has unbalanced shell quoting", location=where) from None
    elif isinstance(value, list) and all(isinstance(t, str) for t in value):
        tokens = list(value)
    else:
        raise CodexError("`cmd` must be a string or an array of strings", location=where)
    if not tokens:
        raise CodexError("`cmd` cannot be empty", location=where)
    return tokens


def load_case_file(path: Path) -> CaseFile:
    """Parse a decision-test file (raises a located CodexError when it is malformed)."""
    label = str(path)
    text = read_rules_file(path, _MAX_BYTES)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CodexError(f"invalid TOML: {err}", location=Location(label)) from None
    top = Location(label)
    for key in data:
        if key not in _TOP:
            raise _unknown(key, _TOP, top, "a decision-test file")
    rules_value = data.get("rules")
    if rules_value is None:
        folder = path.parent.parent if path.parent.name == "tests" else path.parent
        rules = sorted(p for p in folder.glob("*.rules") if p.is_file())
    elif isinstance(rules_value, list) and all(isinstance(r, str) for r in rules_value):
        rules = [path.parent / r for r in rules_value]
    else:
        raise CodexError("`rules` must be an array of paths", location=top)
    if not rules:
        raise CodexError(
            "no rules to test", location=top, hint="set `rules = [...]` or put *.rules files "
            "beside the tests/ folder"
        )  # fmt: skip
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise CodexError("`defaults` must be a table", location=top)
    for key in defaults:
        if key not in _SETTINGS:
            raise _unknown(key, _SETTINGS, top, "[defaults]")
    base = _settings(
        defaults,
        {"approval": ApprovalPolicy.ON_REQUEST, "sandbox": SandboxMode.WORKSPACE_WRITE,
         "sandbox_bypass": True},
        top,
    )  # fmt: skip
    entries = data.get("case", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CodexError("`case` must be an array of tables ([[case]])", location=top)
    lines = [text[: m.start()].count("\n") + 1 for m in _CASE_HEADER.finditer(text)]
    result = CaseFile(label, rules)
    for index, entry in enumerate(entries):
        line = lines[index] if index < len(lines) else None
        where = Location(label, line)
        for key in entry:
            if key not in _CASE:
                raise _unknown(key, _CASE, where, "[[case]]")
        if "cmd" not in entry:
            raise CodexError("a case needs `cmd`", location=where)
        if "decision" not in entry and "runtime" not in entry:
            raise CodexError(
                "a case needs `decision` or `runtime`", location=where,
                hint='e.g. decision = "prompt" or runtime = "needs_approval"',
            )  # fmt: skip
        name = entry.get("name")
        if name is not None and not isinstance(name, str):
            raise CodexError("`name` must be a string", location=where)
        bypass = entry.get("bypass_sandbox")
        if bypass is not None and not isinstance(bypass, bool):
            raise CodexError("`bypass_sandbox` must be true or false", location=where)
        settings = _settings(entry, base, where)
        result.cases.append(
            Case(
                line,
                name,
                _cmd(entry["cmd"], where),
                _choice(entry["decision"], _DECISIONS, "decision", where)
                if "decision" in entry
                else None,
                _choice(entry["runtime"], _RUNTIMES, "runtime", where)
                if "runtime" in entry
                else None,
                bypass,
                settings["approval"],
                settings["sandbox"],
                settings["sandbox_bypass"],
            )
        )
    return result


def _policy(case_file: CaseFile) -> Policy:
    parser = PolicyParser()
    for path in case_file.rules:
        parser.parse_file(path)
    return parser.policy


def run_case_file(case_file: CaseFile) -> CaseFile:
    """Evaluate every case against the file's rules; records results (or a load error)."""
    try:
        policy = _policy(case_file)
    except CodexError as err:
        case_file.error = str(err)
        return case_file
    for case in case_file.cases:
        check = policy.check(case.cmd, resolve_host_executables=True).decision
        decision = check.value if check is not None else "none"
        runtime = evaluate_exec(
            policy,
            case.cmd,
            approval=case.approval,
            sandbox=case.sandbox,
            sandbox_bypass=case.sandbox_bypass,
        ).requirement
        problems = []
        if case.decision is not None and case.decision != decision:
            problems.append(f"decision: expected {case.decision}, got {decision}")
        if case.runtime is not None and case.runtime != runtime.kind:
            reason = f" ({runtime.reason})" if runtime.reason else ""
            problems.append(f"runtime: expected {case.runtime}, got {runtime.kind}{reason}")
        if case.bypass_sandbox is not None and case.bypass_sandbox != runtime.bypass_sandbox:
            problems.append(
                f"bypass_sandbox: expected {str(case.bypass_sandbox).lower()}, got "
                f"{str(runtime.bypass_sandbox).lower()}"
            )
        case_file.results.append(
            CaseResult(
                case,
                decision,
                runtime.kind,
                runtime.bypass_sandbox,
                "; ".join(problems) if problems else None,
            )
        )
    return case_file
