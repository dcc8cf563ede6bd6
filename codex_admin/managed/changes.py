"""What a policy diff says: reviewer-facing changes, and how their messages spell values.

A :class:`Change` is one statement (``tighter``, ``looser`` or ``neutral``) about one key;
a :class:`PolicyDiff` is the list, ``loosens`` when any is looser (the CLI's exit code 3). Values
in messages are spelled as in TOML (``true``, ``"on-request"``, ``["a", "b"]``; unset is
``unset``), keys as TOML dotted keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from codex_admin.config import format_inline, format_key

__all__ = [
    "LOOSER",
    "NEUTRAL",
    "TIGHTER",
    "Change",
    "KeyPath",
    "PolicyDiff",
    "RulesDiffer",
    "arrow",
    "effect_of",
    "key_label",
    "toml_text",
]

TIGHTER, LOOSER, NEUTRAL = "tighter", "looser", "neutral"

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class Change:
    """One reviewer-facing statement about the change."""

    area: str  # requirements | config | rules
    key: str
    effect: str  # tighter | looser | neutral
    message: str
    old: Any = None
    new: Any = None

    def to_json(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "key": self.key,
            "effect": self.effect,
            "message": self.message,
            "old": self.old,
            "new": self.new,
        }


@dataclass
class PolicyDiff:
    changes: list[Change] = field(default_factory=list)

    @property
    def loosens(self) -> bool:
        return any(c.effect == LOOSER for c in self.changes)

    def count(self, effect: str) -> int:
        return sum(1 for c in self.changes if c.effect == effect)

    def to_json(self) -> dict[str, Any]:
        return {
            "loosens": self.loosens,
            "summary": {e: self.count(e) for e in (TIGHTER, LOOSER, NEUTRAL)},
            "changes": [c.to_json() for c in self.changes],
        }


RulesDiffer = Callable[[Mapping[str, str], Mapping[str, str]], list[Change]]


def toml_text(value: Any) -> str:
    """A value as TOML spells it (``unset`` for None): what every message shows."""
    return format_inline(value)


def key_label(key: KeyPath) -> str:
    """A key path as a TOML dotted key (``sandbox_workspace_write.network_access``)."""
    return format_key(list(key))


def arrow(old: Any, new: Any) -> str:
    """``old -> new`` in TOML spelling."""
    return f"{toml_text(old)} -> {toml_text(new)}"


def effect_of(looser: bool, tighter: bool) -> str:
    """The effect of a change that loosens and/or tightens: loosening wins (it needs review)."""
    return LOOSER if looser else TIGHTER if tighter else NEUTRAL
