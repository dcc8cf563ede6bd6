"""Load ``*.rules`` files into one :class:`Policy` (spec §1-2).

Several files go through one :class:`PolicyParser` in order; rules accumulate. Each file's
``match``/``not_match`` examples are checked when that file ends, against a throw-away policy
holding only the rules of that one call plus every host_executable known at that point, with
basename resolution on. Errors carry ``path:line``: Starlark and builtin errors read
``starlark error: <message>``; example failures are bare, as in Codex.

``collect_example_failures=True`` (used by ``codex execpolicy test``) records example failures
instead of stopping at the first one.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_admin.errors import CodexError, Location
from codex_admin.execpolicy import validate as v
from codex_admin.execpolicy.model import NetworkRule, PrefixRule, rust_debug_str
from codex_admin.execpolicy.policy import Policy
from codex_admin.execpolicy.starlark_runner import (
    LIMITS,
    BuiltinError,
    Limits,
    StarlarkFailure,
    caller_line,
    evaluate_rules_source,
)

__all__ = ["ExampleCall", "ExampleFailure", "PolicyParser", "example_failure"]


@dataclass
class ExampleCall:
    """One ``prefix_rule(...)`` call: the rules it produced and its examples."""

    path: str
    line: int | None
    rules: list[PrefixRule]
    match: list[tuple[str, ...]]
    not_match: list[tuple[str, ...]]


@dataclass
class ExampleFailure:
    call: ExampleCall
    message: str

    @property
    def location(self) -> Location:
        return Location(self.call.path, self.call.line)


@dataclass
class PolicyParser:
    """Accumulates rules from many files into ``policy`` (spec §2)."""

    collect_example_failures: bool = False
    limits: Limits = LIMITS
    policy: Policy = field(default_factory=Policy)
    calls: list[ExampleCall] = field(default_factory=list)
    failures: list[ExampleFailure] = field(default_factory=list)

    def parse_file(self, path: str | Path) -> None:
        label = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as err:
            raise CodexError(f"failed to read policy at {label}: {err.strerror or err}") from None
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError as err:
            line = data[: err.start].count(b"\n") + 1
            raise CodexError(
                f"failed to parse policy at {label}: file is not valid UTF-8",
                location=Location(label, line),
            ) from None
        self.parse_source(label, source)

    def parse_source(self, label: str, source: str) -> None:
        """Evaluate one file's text; ``label`` names it in errors and ``source`` fields."""
        file_calls: list[ExampleCall] = []

        def prefix_rule(
            pattern: Any,
            decision: Any,
            match: Any,
            not_match: Any,
            justification: Any,
            stack: Any = None,
        ) -> None:
            parsed_decision = v.optional_decision(decision)
            parsed_justification = v.optional_justification(justification)
            tokens = v.decode_pattern(pattern)
            match_examples = v.decode_examples(match, "match")
            not_match_examples = v.decode_examples(not_match, "not_match")
            line = caller_line(stack, label)
            where = f"{label}:{line}" if line is not None else label
            first, rest = tokens[0], tuple(tokens[1:])
            programs = [first] if isinstance(first, str) else list(first)
            rules = [
                PrefixRule(
                    program,
                    rest,
                    parsed_decision,
                    parsed_justification,
                    where,
                    tuple(match_examples),
                    tuple(not_match_examples),
                )
                for program in programs
            ]
            for rule in rules:
                self.policy.add_rule(rule)
            call = ExampleCall(label, line, rules, match_examples, not_match_examples)
            self.calls.append(call)
            file_calls.append(call)

        def network_rule(
            host: Any, protocol: Any, decision: Any, justification: Any, stack: Any = None
        ) -> None:
            raw_host = v._string_param(host, "host")  # type check first, as the Rust signature
            canonical = v.network_protocol(protocol)
            parsed_decision = v.network_decision(decision)
            parsed_justification = v.optional_justification(justification)
            if raw_host is None:
                raise BuiltinError("invalid rule: network_rule host cannot be empty")
            normalized = v.normalize_network_host(raw_host)
            line = caller_line(stack, label)
            where = f"{label}:{line}" if line is not None else label
            self.policy.network_rules.append(
                NetworkRule(normalized, canonical, parsed_decision, parsed_justification, where)
            )

        def host_executable(name: Any, paths: Any) -> None:
            key, resolved = v.validate_host_executable(name, paths)
            self.policy.host_executables.pop(key, None)  # last definition wins, moves to end
            self.policy.host_executables[key] = resolved

        builtins: dict[str, Callable[..., None]] = {
            "prefix_rule": prefix_rule,
            "network_rule": network_rule,
            "host_executable": host_executable,
        }
        try:
            evaluate_rules_source(label, source, builtins, self.limits)
        except StarlarkFailure as err:
            raise CodexError(
                f"starlark error: {err.message}",
                location=Location(label, err.line),
                hint=_hint(source, err.line),
            ) from None
        for call in file_calls:
            message = example_failure(call, self.policy.host_executables)
            if message is None:
                continue
            if not self.collect_example_failures:
                raise CodexError(message, location=Location(call.path, call.line))
            self.failures.append(ExampleFailure(call, message))


def _hint(source: str, line: int | None) -> str | None:
    if line is None:
        return None
    lines = source.splitlines()
    if 1 <= line <= len(lines):
        text = lines[line - 1].strip()
        if len(text) > 120:
            text = text[:117] + "..."
        return f"the problem is on or around line {line}: {text}"
    return None


def _join(example: Iterable[str]) -> str:
    return shlex.join(example)


def example_failure(call: ExampleCall, host_executables: dict[str, tuple[str, ...]]) -> str | None:
    """Codex's example check for one call; the error text, or None when all examples pass."""
    if not call.match and not call.not_match:
        return None
    scratch = Policy(host_executables=dict(host_executables))
    for rule in call.rules:
        scratch.add_rule(rule)
    for example in call.not_match:
        found = scratch.matches_for_command(list(example), resolve_host_executables=True)
        if found:
            return f"expected example to not match rule `{found[0].debug()}`: {_join(example)}"
    unmatched = [
        example
        for example in call.match
        if not scratch.matches_for_command(list(example), resolve_host_executables=True)
    ]
    if unmatched:
        rules = ", ".join(rule.debug() for rule in call.rules)
        examples = ", ".join(rust_debug_str(_join(example)) for example in unmatched)
        return (
            "expected every example to match at least one rule. "
            f"rules: [{rules}]; unmatched examples: [{examples}]"
        )
    return None
