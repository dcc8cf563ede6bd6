"""The evaluated policy and how a command is matched against it (spec §3).

Era: the exact-first / basename-fallback matcher of Codex's ``policy.rs`` (host_executable era),
plus the newest "restrictive host rules" (issue #37079) exposed separately as
:meth:`Policy.restrictive_basename_matches` so the runtime decision (``decide``) can stop
``/tmp/git push`` or ``./git push`` escaping a ``git push`` forbid, while ``check`` keeps Codex's
exact JSON.

Matching is a dict lookup by program; a program with more than a handful of rules is then
looked up in a prefix tree over its rules' leading tokens (:mod:`index`, built on first use and
dropped when the program gains a rule), so a check costs about the same with 10 or 10,000 rules
for one program. A separate tree over each program's prompt/forbidden rules answers the runtime's
"could this command still match a restrictive rule" questions (:meth:`Policy.first_restrictive`).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from codex_admin.execpolicy.index import RuleIndex
from codex_admin.execpolicy.model import (
    Decision,
    Evaluation,
    HeuristicsRuleMatch,
    NetworkRule,
    PrefixRule,
    PrefixRuleMatch,
    RuleMatch,
)

__all__ = ["Policy", "basename_fallback", "expand_home", "match_rules", "normalize_absolute"]

Fallback = Callable[[list[str]], Decision]
_SCAN_LIMIT = 16  # up to this many rules for a program are scanned instead of indexed


def expand_home(path: str) -> str:
    """Expand only a leading ``~`` or ``~/`` (never ``~user``), as Codex does."""
    if path == "~" or path.startswith("~/"):
        home = os.environ.get("HOME") or posixpath.expanduser("~")
        return home + path[1:]
    return path


def normalize_absolute(path: str) -> str | None:
    """Home-expand and lexically normalize; None when the result is not absolute."""
    expanded = expand_home(path)
    if not expanded.startswith("/"):
        return None
    normalized = posixpath.normpath(expanded)
    if normalized.startswith("//"):
        normalized = "/" + normalized.lstrip("/")
    return normalized


def match_rules(
    rules: Iterable[PrefixRule],
    cmd: Sequence[str],
    program: str | None = None,
    resolved: str | None = None,
) -> list[PrefixRuleMatch]:
    """The matches of ``rules`` against ``cmd`` (``program`` stands for ``cmd[0]``)."""
    out: list[PrefixRuleMatch] = []
    for rule in rules:
        prefix = rule.match_prefix(cmd, program)
        if prefix is not None:
            out.append(PrefixRuleMatch(prefix, rule.decision, resolved, rule.justification, rule))
    return out


def basename_fallback(
    program: str, host_executables: dict[str, tuple[str, ...]]
) -> tuple[str, str] | None:
    """(basename, normalized path) when ``program`` may be matched by its basename (spec §3.2:
    absolute after home expansion, and allowed by any ``host_executable`` for that name)."""
    resolved = normalize_absolute(program)
    if resolved is None:
        return None
    basename = posixpath.basename(resolved)
    if not basename:
        return None
    allowed_paths = host_executables.get(basename)
    if allowed_paths is not None and resolved not in allowed_paths:
        return None
    return basename, resolved


@dataclass
class Policy:
    """Rules keyed by program (insertion order kept), network rules and host executables."""

    rules_by_program: dict[str, list[PrefixRule]] = field(default_factory=dict)
    network_rules: list[NetworkRule] = field(default_factory=list)
    host_executables: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _indexes: dict[str, RuleIndex] = field(default_factory=dict, repr=False, compare=False)
    _restrictive: dict[str, RuleIndex | None] = field(
        default_factory=dict, repr=False, compare=False
    )
    _restrictive_programs: set[str] = field(default_factory=set, repr=False, compare=False)

    def __post_init__(self) -> None:
        for program, rules in self.rules_by_program.items():
            if any(rule.decision is not Decision.ALLOW for rule in rules):
                self._restrictive_programs.add(program)

    # ----------------------------------------------------------------- building
    def add_rule(self, rule: PrefixRule) -> None:
        self.rules_by_program.setdefault(rule.program, []).append(rule)
        self._indexes.pop(rule.program, None)
        if rule.decision is not Decision.ALLOW:
            self._restrictive.pop(rule.program, None)
            self._restrictive_programs.add(rule.program)

    def add_prefix_rule(self, prefix: Sequence[str], decision: Decision) -> None:
        """The amendment API: every token literal, no justification (spec §3.3)."""
        if not prefix:
            raise ValueError("invalid pattern element: prefix cannot be empty")
        self.add_rule(PrefixRule(prefix[0], tuple(prefix[1:]), decision))

    def merge_overlay(self, overlay: Policy) -> Policy:
        """A new policy: overlay rules after ours, network rules concatenated, overlay's
        host_executable entries replacing ours (spec §3.3 ``merge_overlay``)."""
        merged = Policy(
            {k: list(v) for k, v in self.rules_by_program.items()},
            [*self.network_rules, *overlay.network_rules],
            {**self.host_executables, **overlay.host_executables},
        )
        # indexes are immutable: share those of programs the overlay leaves alone
        merged._indexes.update(self._indexes)
        merged._restrictive.update(self._restrictive)
        for rules in overlay.rules_by_program.values():
            for rule in rules:
                merged.add_rule(rule)
        return merged

    # ----------------------------------------------------------------- queries
    def rules(self) -> Iterable[PrefixRule]:
        for rules in self.rules_by_program.values():
            yield from rules

    @property
    def rule_count(self) -> int:
        return sum(len(v) for v in self.rules_by_program.values())

    @property
    def has_restrictive_rules(self) -> bool:
        """True when any prefix rule prompts or forbids."""
        return bool(self._restrictive_programs)

    def restricted_programs(self) -> frozenset[str]:
        """The programs that prompt/forbidden rules name."""
        return frozenset(self._restrictive_programs)

    def is_restricted(self, program: str) -> bool:
        """True when a prompt/forbidden rule names ``program`` (a bare name)."""
        return program in self._restrictive_programs

    def allowed_prefixes(self) -> list[list[str]]:
        """Every allow rule as tokens (alternatives as ``[a|b]``), sorted and de-duplicated."""
        seen: set[tuple[str, ...]] = set()
        for rule in self.rules():
            if rule.decision is Decision.ALLOW:
                rest = (t if isinstance(t, str) else "[" + "|".join(t) + "]" for t in rule.rest)
                seen.add((rule.program, *rest))
        return [list(p) for p in sorted(seen)]

    def compiled_network_domains(self) -> tuple[list[str], list[str]]:
        """(allowed, denied): per host the last allow/forbidden rule wins; prompt is ignored.

        Each list is ordered by the position of the deciding rule (spec §1.3)."""
        last: dict[str, tuple[int, Decision]] = {}
        for index, rule in enumerate(self.network_rules):
            if rule.decision is not Decision.PROMPT:
                last[rule.host] = (index, rule.decision)
        ordered = sorted(last.items(), key=lambda item: item[1][0])
        allowed = [host for host, (_, d) in ordered if d is Decision.ALLOW]
        denied = [host for host, (_, d) in ordered if d is Decision.FORBIDDEN]
        return allowed, denied

    def to_json(self) -> dict[str, Any]:
        """The ``codex execpolicy show --json`` shape."""
        allowed, denied = self.compiled_network_domains()
        return {
            "rules": {
                program: [
                    {
                        "pattern": rule.pattern(),
                        "decision": rule.decision.value,
                        "justification": rule.justification,
                        "source": rule.source,
                    }
                    for rule in rules
                ]
                for program, rules in self.rules_by_program.items()
            },
            "network_rules": [rule.to_json() for rule in self.network_rules],
            "allowed_domains": allowed,
            "denied_domains": denied,
            "host_executables": {
                name: list(paths) for name, paths in self.host_executables.items()
            },
        }

    # ----------------------------------------------------------------- matching
    def _candidates(self, cmd: Sequence[str], program: str) -> Sequence[PrefixRule]:
        rules = self.rules_by_program.get(program)
        if not rules:
            return ()
        if len(rules) <= _SCAN_LIMIT:
            return rules
        index = self._indexes.get(program)
        if index is None:
            index = self._indexes[program] = RuleIndex(rules)
        return index.candidates(cmd)

    def _restrictive_index(self, program: str) -> RuleIndex | None:
        if program not in self._restrictive:
            rules = [
                rule
                for rule in self.rules_by_program.get(program, ())
                if rule.decision is not Decision.ALLOW
            ]
            self._restrictive[program] = RuleIndex(rules) if rules else None
        return self._restrictive[program]

    def restrictive_matches(self, cmd: Sequence[str]) -> list[PrefixRuleMatch]:
        """Prompt/forbidden matches of ``cmd`` with ``cmd[0]`` taken as the program as spelled."""
        if not cmd:
            return []
        index = self._restrictive_index(cmd[0])
        if index is None:
            return []
        return match_rules(index.candidates(cmd), cmd)

    def first_restrictive(self, program: str, args: Sequence[str]) -> PrefixRule | None:
        """A prompt/forbidden rule for ``program`` that ``[program, *args, <more words>]``
        could still match: the question asked when the word after ``args`` is not known."""
        index = self._restrictive_index(program)
        return index.first_extending(args) if index is not None else None

    def _exact(
        self, cmd: Sequence[str], program: str, resolved: str | None
    ) -> list[PrefixRuleMatch]:
        return match_rules(self._candidates(cmd, program), cmd, program, resolved)

    def matches_for_command(
        self, cmd: Sequence[str], *, resolve_host_executables: bool = False
    ) -> list[PrefixRuleMatch]:
        """Exact program first; basename fallback only when that found nothing (spec §3.2)."""
        if not cmd:
            return []
        exact = self._exact(cmd, cmd[0], None)
        if exact or not resolve_host_executables:
            return exact
        fallback = basename_fallback(cmd[0], self.host_executables)
        if fallback is None or fallback[0] not in self.rules_by_program:
            return []
        basename, resolved = fallback
        return self._exact([basename, *cmd[1:]], basename, resolved)

    def restrictive_basename_matches(self, cmd: Sequence[str]) -> list[PrefixRuleMatch]:
        """Prompt/forbidden rules of argv[0]'s basename, for any path spelling of argv[0].

        Newest Codex ("restrictive host rules", issue #37079): ignores host_executable
        allowlists and also covers relative spellings (``./git``, ``git/../git``), so a
        forbid on ``git push`` cannot be escaped by renaming the path. Allow matches are dropped.
        """
        if not cmd or "/" not in cmd[0]:
            return []
        program = cmd[0]
        absolute = normalize_absolute(program)
        basename = posixpath.basename(posixpath.normpath(absolute or expand_home(program)))
        if not basename or basename in (".", "..") or basename == program:
            return []
        return [
            m
            for m in self._exact([basename, *cmd[1:]], basename, absolute)
            if m.decision is not Decision.ALLOW
        ]

    def check(
        self,
        cmd: Sequence[str],
        *,
        resolve_host_executables: bool = False,
        fallback: Fallback | None = None,
    ) -> Evaluation:
        return self.check_multiple(
            [cmd], resolve_host_executables=resolve_host_executables, fallback=fallback
        )

    def check_multiple(
        self,
        cmds: Sequence[Sequence[str]],
        *,
        resolve_host_executables: bool = False,
        fallback: Fallback | None = None,
    ) -> Evaluation:
        """Concatenate every command's matches; unmatched ones get the fallback's verdict."""
        matches: list[RuleMatch] = []
        for cmd in cmds:
            found = self.matches_for_command(cmd, resolve_host_executables=resolve_host_executables)
            if found:
                matches.extend(found)
            elif fallback is not None:
                matches.append(HeuristicsRuleMatch(list(cmd), fallback(list(cmd))))
        return Evaluation(matches)
