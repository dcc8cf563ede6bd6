"""Hook matchers (spec guardian_otel_hooks §3.2): which event occurrences a matcher group selects.

Rules, in order:

* omitted, ``""`` or ``"*"``: matches everything;
* only ``[A-Za-z0-9_|]``: exact names with ``|`` alternatives (``Bash`` does not match
  ``BashOutput``; ``Edit|Write`` matches either);
* anything else: a regular expression searched anywhere in the input (``^Bash``,
  ``mcp__.*__write.*``); an invalid one is reported at discovery and never matches.

Events that do not dispatch on a name (UserPromptSubmit, Stop, SessionEnd) ignore the matcher
entirely, so an invalid pattern there is neither reported nor able to disable the hook.
A call matches when any of its inputs does (a tool's name or one of its aliases, e.g.
``apply_patch`` with ``Write`` and ``Edit``), and the hook then runs once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Matcher", "MatcherKind"]

_EXACT = re.compile(r"^[A-Za-z0-9_|]+$")


class MatcherKind(StrEnum):
    ALL = "all"
    EXACT = "exact"
    REGEX = "regex"
    INVALID = "invalid"
    IGNORED = "ignored"  # the event does not use matchers


@dataclass(frozen=True)
class Matcher:
    """A compiled matcher; build with :meth:`compile`."""

    pattern: str | None
    kind: MatcherKind
    alternatives: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None
    error: str | None = None

    @classmethod
    def compile(cls, pattern: str | None, *, used: bool = True) -> Matcher:
        """``used`` is False for events whose matcher is ignored."""
        if not used:
            return cls(pattern, MatcherKind.IGNORED)
        if pattern is None or pattern in ("", "*"):
            return cls(pattern, MatcherKind.ALL)
        if _EXACT.match(pattern):
            return cls(pattern, MatcherKind.EXACT, tuple(pattern.split("|")))
        try:
            return cls(pattern, MatcherKind.REGEX, regex=re.compile(pattern))
        except re.error as err:
            return cls(pattern, MatcherKind.INVALID, error=str(err))

    def matches(self, inputs: Sequence[str] | None) -> bool:
        """True when any of ``inputs`` is selected; ``None`` means the event has no name."""
        if self.kind in (MatcherKind.ALL, MatcherKind.IGNORED):
            return True
        if self.kind is MatcherKind.INVALID or inputs is None:
            return False
        if self.kind is MatcherKind.EXACT:
            return any(value in self.alternatives for value in inputs)
        assert self.regex is not None
        return any(self.regex.search(value) for value in inputs)
