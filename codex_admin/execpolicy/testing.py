"""``codex execpolicy test``: run every example of a set of rules files, like a test suite.

Unlike loading (which stops at the first failure, as Codex does), this collects every example
failure and every file that fails to load, runs the decision tests of ``tests/*.toml`` files
(:mod:`cases`: the decision a rule set gives and what the runtime does), then adds two review
aids: coverage (rules that no ``match`` example of the set exercises) and shadowing (a rule whose
decision can never win because a stricter rule for the same program with a prefix no longer than
it covers every command it matches). Failures decide the outcome; coverage and shadowing are
warnings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_admin.errors import CodexError
from codex_admin.execpolicy.cases import CaseFile, load_case_file, run_case_file
from codex_admin.execpolicy.model import PatternToken, PrefixRule
from codex_admin.execpolicy.parser import ExampleCall, PolicyParser

__all__ = [
    "CallResult",
    "FileResult",
    "TestReport",
    "collect_rule_files",
    "collect_test_files",
    "run_policy_tests",
]


def collect_test_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """(rules files, decision-test files): files as given (``.toml`` ones are decision tests);
    directories contribute ``*.rules`` and ``tests/*.toml`` recursively, sorted."""
    rules: list[Path] = []
    cases: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            rules.extend(sorted(p for p in path.rglob("*.rules") if p.is_file()))
            cases.extend(
                sorted(p for p in path.rglob("*.toml") if p.parent.name == "tests" and p.is_file())
            )
        elif path.exists():
            (cases if path.suffix == ".toml" else rules).append(path)
        else:
            raise CodexError(f"no such rules file or directory: {path}")
    return rules, cases


def collect_rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """The rules files of :func:`collect_test_files`."""
    return collect_test_files(paths)[0]


def _pattern(rule: PrefixRule) -> list[Any]:
    return rule.pattern()


def _rule_json(rule: PrefixRule) -> dict[str, Any]:
    return {"source": rule.source, "pattern": _pattern(rule), "decision": rule.decision.value}


@dataclass
class CallResult:
    call: ExampleCall
    message: str | None = None

    @property
    def status(self) -> str:
        if self.message is not None:
            return "fail"
        return "pass" if self.call.match or self.call.not_match else "untested"

    def to_json(self) -> dict[str, Any]:
        rule = self.call.rules[0]
        pattern = _pattern(rule)
        if len(self.call.rules) > 1:
            pattern[0] = [r.program for r in self.call.rules]
        return {
            "source": rule.source,
            "pattern": pattern,
            "decision": rule.decision.value,
            "match": len(self.call.match),
            "not_match": len(self.call.not_match),
            "status": self.status,
            "message": self.message,
        }


@dataclass
class FileResult:
    path: str
    error: str | None = None
    calls: list[CallResult] = field(default_factory=list)


@dataclass
class TestReport:
    files: list[FileResult]
    uncovered: list[PrefixRule]
    shadowed: list[tuple[PrefixRule, PrefixRule]]
    case_files: list[CaseFile] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return (
            sum(1 for f in self.files if f.error)
            + sum(1 for f in self.files for c in f.calls if c.status == "fail")
            + sum(f.failures for f in self.case_files)
        )

    @property
    def ok(self) -> bool:
        return self.failures == 0

    def to_json(self) -> dict[str, Any]:
        calls = [c for f in self.files for c in f.calls]
        return {
            "ok": self.ok,
            "summary": {
                "files": len(self.files),
                "rules": len(calls),
                "examples": sum(len(c.call.match) + len(c.call.not_match) for c in calls),
                "cases": sum(len(f.results) for f in self.case_files),
                "failures": self.failures,
                "uncovered": len(self.uncovered),
                "shadowed": len(self.shadowed),
            },
            "files": [
                {"path": f.path, "error": f.error, "rules": [c.to_json() for c in f.calls]}
                for f in self.files
            ],
            "uncovered": [_rule_json(r) for r in self.uncovered],
            "shadowed": [
                {**_rule_json(r), "shadowedBy": _rule_json(by)} for r, by in self.shadowed
            ],
            "caseFiles": [
                {
                    "path": f.path,
                    "error": f.error,
                    "cases": [_case_json(f.path, r) for r in f.results],
                }
                for f in self.case_files
            ],
        }

    def to_text(self) -> str:
        lines: list[str] = []
        for f in self.files:
            if f.error:
                lines.append(f"FAIL {f.path}: {f.error}")
                continue
            passed = sum(1 for c in f.calls if c.status != "fail")
            status = "ok  " if passed == len(f.calls) else "FAIL"
            lines.append(f"{status} {f.path} ({passed}/{len(f.calls)} rules)")
            for c in f.calls:
                data = c.to_json()
                if c.status == "fail":
                    lines.append(f"  FAIL {data['source']}: {c.message}")
                elif c.status == "untested":
                    lines.append(
                        f"  untested {data['source']}: {_show(data['pattern'])} has no examples"
                    )
        for case_file in self.case_files:
            if case_file.error:
                lines.append(f"FAIL {case_file.path}: {case_file.error}")
                continue
            passed = sum(1 for r in case_file.results if r.status == "pass")
            status = "ok  " if passed == len(case_file.results) else "FAIL"
            lines.append(f"{status} {case_file.path} ({passed}/{len(case_file.results)} cases)")
            for result in case_file.results:
                if result.message is not None:
                    where = f"{case_file.path}:{result.case.line}" if result.case.line else ""
                    lines.append(f"  FAIL {where}: {result.case.label}: {result.message}")
        for rule in self.uncovered:
            lines.append(
                f"coverage: {rule.source}: {_show(_pattern(rule))} -> {rule.decision.value} is not "
                "exercised by any match example"
            )
        for rule, by in self.shadowed:
            lines.append(
                f"warning: {rule.source}: {_show(_pattern(rule))} -> {rule.decision.value} is "
                f"shadowed by {by.source}: {_show(_pattern(by))} -> {by.decision.value}"
            )
        summary = self.to_json()["summary"]
        lines.append(
            f"{'PASSED' if self.ok else 'FAILED'}: {summary['files']} files, "
            f"{summary['rules']} rules, {summary['examples']} examples, "
            f"{summary['cases']} cases, {summary['failures']} failures, "
            f"{summary['uncovered']} uncovered, {summary['shadowed']} shadowed"
        )
        return "\n".join(lines) + "\n"

    def to_junit(self) -> str:
        from xml.sax.saxutils import quoteattr  # only the JUnit format needs it

        out = ['<?xml version="1.0" encoding="UTF-8"?>']
        total = sum(max(1, len(f.calls)) for f in self.files) + sum(
            max(1, len(f.results)) for f in self.case_files
        )
        out.append(f'<testsuites name="execpolicy" tests="{total}" failures="{self.failures}">')
        for f in self.files:
            failures = (1 if f.error else 0) + sum(1 for c in f.calls if c.status == "fail")
            tests = max(1, len(f.calls))
            out.append(
                f'  <testsuite name={quoteattr(f.path)} tests="{tests}" failures="{failures}">'
            )
            if f.error:
                out.append(f'    <testcase classname={quoteattr(f.path)} name="load">')
                out.append(f"      <failure message={quoteattr(f.error)}/>")
                out.append("    </testcase>")
            for c in f.calls:
                data = c.to_json()
                name = quoteattr(f"{data['source']} {_show(data['pattern'])}")
                if c.status == "fail":
                    out.append(f"    <testcase classname={quoteattr(f.path)} name={name}>")
                    out.append(f"      <failure message={quoteattr(c.message or '')}/>")
                    out.append("    </testcase>")
                elif c.status == "untested":
                    out.append(f"    <testcase classname={quoteattr(f.path)} name={name}>")
                    out.append('      <skipped message="rule has no examples"/>')
                    out.append("    </testcase>")
                else:
                    out.append(f"    <testcase classname={quoteattr(f.path)} name={name}/>")
            out.append("  </testsuite>")
        for case_file in self.case_files:
            tests = max(1, len(case_file.results))
            out.append(
                f'  <testsuite name={quoteattr(case_file.path)} tests="{tests}" '
                f'failures="{case_file.failures}">'
            )
            if case_file.error:
                out.append(f'    <testcase classname={quoteattr(case_file.path)} name="load">')
                out.append(f"      <failure message={quoteattr(case_file.error)}/>")
                out.append("    </testcase>")
            for result in case_file.results:
                name = quoteattr(f"{case_file.path}:{result.case.line} {result.case.label}")
                if result.message is None:
                    out.append(f"    <testcase classname={quoteattr(case_file.path)} name={name}/>")
                else:
                    out.append(f"    <testcase classname={quoteattr(case_file.path)} name={name}>")
                    out.append(f"      <failure message={quoteattr(result.message)}/>")
                    out.append("    </testcase>")
            out.append("  </testsuite>")
        out.append("</testsuites>")
        return "\n".join(out) + "\n"


def _case_json(path: str, result: Any) -> dict[str, Any]:
    case = result.case
    return {
        "source": f"{path}:{case.line}" if case.line else path,
        "name": case.name,
        "cmd": case.cmd,
        "expected": {
            "decision": case.decision,
            "runtime": case.runtime,
            "bypassSandbox": case.bypass_sandbox,
        },
        "actual": {
            "decision": result.decision,
            "runtime": result.runtime,
            "bypassSandbox": result.bypass_sandbox,
        },
        "status": result.status,
        "message": result.message,
    }


def _show(pattern: list[Any]) -> str:
    parts = [p if isinstance(p, str) else "[" + "|".join(p) + "]" for p in pattern]
    return " ".join(parts)


def _covers(stricter: PatternToken, token: PatternToken) -> bool:
    wide = {stricter} if isinstance(stricter, str) else set(stricter)
    narrow = {token} if isinstance(token, str) else set(token)
    return narrow <= wide


def shadowing(rules: list[PrefixRule]) -> list[tuple[PrefixRule, PrefixRule]]:
    """(rule, stricter rule) pairs where the stricter rule matches everything the rule does."""
    by_program: dict[str, list[PrefixRule]] = {}
    for rule in rules:
        by_program.setdefault(rule.program, []).append(rule)
    found: list[tuple[PrefixRule, PrefixRule]] = []
    for group in by_program.values():
        for rule in group:
            for other in group:
                if (
                    other is not rule
                    and other.decision.rank > rule.decision.rank
                    and other.length <= rule.length
                    and all(_covers(o, t) for o, t in zip(other.rest, rule.rest, strict=False))
                ):
                    found.append((rule, other))
                    break
    return found


def run_policy_tests(paths: Iterable[str | Path]) -> TestReport:
    files, case_paths = collect_test_files(paths)
    if not files and not case_paths:
        raise CodexError(
            "no *.rules files found", hint="pass rules files or directories holding them"
        )
    parser = PolicyParser(collect_example_failures=True)
    results: list[FileResult] = []
    for path in files:
        result = FileResult(str(path))
        calls_before = len(parser.calls)
        failures_before = len(parser.failures)
        try:
            parser.parse_file(path)
        except CodexError as err:
            result.error = str(err)
        failed = {id(f.call): f.message for f in parser.failures[failures_before:]}
        if result.error is None:
            result.calls = [
                CallResult(call, failed.get(id(call))) for call in parser.calls[calls_before:]
            ]
        results.append(result)
    policy = parser.policy
    covered: set[int] = set()
    for call in parser.calls:
        for example in call.match:
            for match in policy.matches_for_command(list(example), resolve_host_executables=True):
                covered.add(id(match.rule))
    all_rules = list(policy.rules())
    uncovered = [rule for rule in all_rules if id(rule) not in covered]
    case_files: list[CaseFile] = []
    for case_path in case_paths:
        try:
            case_files.append(run_case_file(load_case_file(case_path)))
        except CodexError as err:
            case_files.append(CaseFile(str(case_path), [], error=str(err)))
    return TestReport(results, uncovered, shadowing(all_rules), case_files)
