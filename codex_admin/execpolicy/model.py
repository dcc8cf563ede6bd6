"""Data types of the command policy: decisions, rules, matches and evaluations.

These mirror the Rust types of Codex's ``codex-execpolicy`` crate (spec §1, §3, §4), including
their JSON shapes (``prefixRuleMatch`` / ``heuristicsRuleMatch`` with a fixed key order) and the
Rust ``Debug`` renderings that appear verbatim in example-validation error texts (spec §2).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "Decision",
    "Evaluation",
    "HeuristicsRuleMatch",
    "NetworkRule",
    "PatternToken",
    "PrefixRule",
    "PrefixRuleMatch",
    "RuleMatch",
    "rust_debug_str",
]


class Decision(enum.Enum):
    """A rule's verdict. Ordered ``allow < prompt < forbidden``: the strictest match wins."""

    ALLOW = "allow"
    PROMPT = "prompt"
    FORBIDDEN = "forbidden"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def debug(self) -> str:
        """Rust ``Debug`` spelling (``Allow``), used inside example error texts."""
        return self.value.capitalize()

    @classmethod
    def parse(cls, text: str) -> Decision:
        """Parse ``allow|prompt|forbidden`` (case-sensitive, as Codex does)."""
        decision = _BY_VALUE.get(text)
        if decision is None:
            raise ValueError(f"invalid decision: {text}")
        return decision

    @staticmethod
    def strictest(decisions: Sequence[Decision]) -> Decision:
        return max(decisions, key=lambda d: d.rank)


_RANK = {Decision.ALLOW: 0, Decision.PROMPT: 1, Decision.FORBIDDEN: 2}
_BY_VALUE = {decision.value: decision for decision in Decision}

# A pattern position: one literal token, or a tuple of alternatives ("any of").
PatternToken = str | tuple[str, ...]


def rust_debug_str(text: str) -> str:
    """Render a string the way Rust's ``{:?}`` does (double quotes, ``\\"`` and ``\\\\``)."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\0":
            out.append("\\0")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _debug_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(rust_debug_str(item) for item in items) + "]"


def _debug_opt(value: str | None) -> str:
    return "None" if value is None else f"Some({rust_debug_str(value)})"


def _token_debug(token: PatternToken) -> str:
    if isinstance(token, str):
        return f"Single({rust_debug_str(token)})"
    return f"Alts({_debug_list(token)})"


def token_matches(token: PatternToken, arg: str) -> bool:
    return arg == token if isinstance(token, str) else arg in token


def token_display(token: PatternToken) -> str | list[str]:
    """JSON form used by ``show``: a string, or a list of alternatives."""
    return token if isinstance(token, str) else list(token)


class PrefixRule(NamedTuple):
    """One ``prefix_rule`` after first-token expansion: ``program`` followed by ``rest``.

    ``source`` (``file:line``) and the examples are bookkeeping for ``show`` and ``test``; they
    take no part in matching. A named tuple rather than a frozen dataclass: a 100,000-rule file
    builds 100,000 of these, and a tuple is built in C several times faster.
    """

    program: str
    rest: tuple[PatternToken, ...]
    decision: Decision
    justification: str | None = None
    source: str | None = None
    match_examples: tuple[tuple[str, ...], ...] = ()
    not_match_examples: tuple[tuple[str, ...], ...] = ()

    @property
    def length(self) -> int:
        return 1 + len(self.rest)

    def match_prefix(self, cmd: Sequence[str], program: str | None = None) -> list[str] | None:
        """Return ``cmd[:n]`` if this rule is a prefix of ``cmd`` (spec §3.1), else None.

        ``program`` is the token compared with the rule's first element (the basename during
        host-executable fallback); it defaults to ``cmd[0]``.
        """
        return list(cmd[: 1 + len(self.rest)]) if self.matches(cmd, program) else None

    def matches(self, cmd: Sequence[str], program: str | None = None) -> bool:
        """Whether this rule is a prefix of ``cmd`` (:meth:`match_prefix` without the copy)."""
        rest = self.rest
        if len(cmd) <= len(rest) or (cmd[0] if program is None else program) != self.program:
            return False
        for position, token in enumerate(rest, 1):
            arg = cmd[position]
            if token.__class__ is str:
                if arg != token:
                    return False
            elif arg not in token:
                return False
        return True

    def pattern(self) -> list[str | list[str]]:
        return [self.program, *(token_display(t) for t in self.rest)]

    def debug(self) -> str:
        rest = "[" + ", ".join(_token_debug(t) for t in self.rest) + "]"
        return (
            f"PrefixRule {{ pattern: PrefixPattern {{ first: {rust_debug_str(self.program)}, "
            f"rest: {rest} }}, decision: {self.decision.debug}, "
            f"justification: {_debug_opt(self.justification)} }}"
        )


@dataclass(frozen=True, slots=True)
class PrefixRuleMatch:
    """A rule that matched a command. ``matched_prefix`` holds the command's own tokens."""

    matched_prefix: list[str]
    decision: Decision
    resolved_program: str | None = None
    justification: str | None = None
    rule: PrefixRule | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "matchedPrefix": self.matched_prefix,
            "decision": self.decision.value,
        }
        if self.resolved_program is not None:
            body["resolvedProgram"] = self.resolved_program
        if self.justification is not None:
            body["justification"] = self.justification
        return {"prefixRuleMatch": body}

    def debug(self) -> str:
        return (
            f"PrefixRuleMatch {{ matched_prefix: {_debug_list(self.matched_prefix)}, "
            f"decision: {self.decision.debug}, resolved_program: "
            f"{_debug_opt(self.resolved_program)}, justification: "
            f"{_debug_opt(self.justification)} }}"
        )


@dataclass(frozen=True, slots=True)
class HeuristicsRuleMatch:
    """The fallback verdict for a command no rule matched (spec §3.2 step 3, §8)."""

    command: list[str]
    decision: Decision

    def to_json(self) -> dict[str, Any]:
        return {"heuristicsRuleMatch": {"command": self.command, "decision": self.decision.value}}


RuleMatch = PrefixRuleMatch | HeuristicsRuleMatch


@dataclass(frozen=True, slots=True)
class Evaluation:
    """All matches for one or more commands; ``decision`` is the strictest (None if no match)."""

    matched_rules: list[RuleMatch]

    @property
    def decision(self) -> Decision | None:
        if not self.matched_rules:
            return None
        return Decision.strictest([m.decision for m in self.matched_rules])

    @property
    def is_match(self) -> bool:
        """True when a real prefix rule (not a heuristic) matched."""
        return any(isinstance(m, PrefixRuleMatch) for m in self.matched_rules)

    def to_check_json(self) -> dict[str, Any]:
        """The ``codex execpolicy check`` shape: ``matchedRules`` first, ``decision`` if any."""
        out: dict[str, Any] = {"matchedRules": [m.to_json() for m in self.matched_rules]}
        decision = self.decision
        if decision is not None:
            out["decision"] = decision.value
        return out


@dataclass(frozen=True, slots=True)
class NetworkRule:
    """A ``network_rule``: normalized host, canonical protocol, decision (``deny`` -> forbidden)."""

    host: str
    protocol: str
    decision: Decision
    justification: str | None = None
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "protocol": self.protocol,
            "decision": self.decision.value,
            "justification": self.justification,
        }
