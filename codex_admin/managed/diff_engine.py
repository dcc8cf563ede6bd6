"""The diff engine: walk two TOML-shaped tables and ask each field's kind for the changes.

An :class:`Area` (requirements or managed config) maps key patterns (``fnmatch`` words, a final
``**`` for a whole subtree) to a :class:`Kind`; the first pattern that matches decides. A *unit*
kind judges its whole value (a set, an allow-list table); other tables are compared key by key
and each leaf is judged by its kind, or by the area's fallback. Managed config ``profiles.NAME``
keys are judged by the same rules as the top level.
"""

from __future__ import annotations

import fnmatch
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codex_admin.managed.changes import Change, KeyPath, key_label

__all__ = ["Area", "Kind", "change_at", "is_tables", "walk", "walk_table"]


@dataclass(frozen=True)
class Area:
    """One side of the policy (requirements or managed config) and the kinds of its fields."""

    name: str
    rules: tuple[tuple[KeyPath, Kind], ...]
    fallback: Kind
    config: bool  # managed config (unset = users choose) vs requirements (unset = no limit)

    def kind(self, path: KeyPath) -> Kind | None:
        for pattern, kind in self.rules:
            if _matches(pattern, path):
                return kind
        return None


def _matches(pattern: KeyPath, path: KeyPath) -> bool:
    if pattern and pattern[-1] == "**":
        head = pattern[:-1]
        return len(path) >= len(head) and _matches(head, path[: len(head)])
    return len(pattern) == len(path) and all(
        fnmatch.fnmatchcase(part, want) for part, want in zip(path, pattern, strict=True)
    )


class Kind(ABC):
    """How one kind of field is judged. ``unit`` kinds judge a whole table themselves."""

    unit = False

    @abstractmethod
    def judge(self, area: Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        """The changes between ``old`` and ``new`` (never equal) at ``key``."""


def change_at(area: Area, key: KeyPath, effect: str, message: str, old: Any, new: Any) -> Change:
    """A change of ``area`` at ``key`` (labelled as a TOML dotted key)."""
    return Change(area.name, key_label(key), effect, message, old, new)


def walk(area: Area, path: KeyPath, old: Any, new: Any) -> list[Change]:
    """Changes between ``old`` and ``new`` at ``path``: a *unit* kind judges its whole value,
    other tables are compared key by key, and each leaf is judged by its kind (or the area's
    fallback: review for requirements, neutral for config)."""
    if old == new:
        return []
    if area.config and len(path) > 2 and path[0] == "profiles":
        # A profile sets the same keys as the top level: judge them by the same rules.
        return [_reprefix(c, path[:2]) for c in walk(area, path[2:], old, new)]
    kind = area.kind(path) if path else None
    if kind is not None and kind.unit:
        return kind.judge(area, path, old, new)
    if is_tables(old, new):
        return walk_table(area, path, old or {}, new or {})
    return (kind or area.fallback).judge(area, path, old, new)


def walk_table(
    area: Area, path: KeyPath, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(set(old) | set(new), key=str):
        changes += walk(area, (*path, str(name)), old.get(name), new.get(name))
    return changes


def is_tables(*values: Any) -> bool:
    """Whether the values are tables (or unset) to compare key by key, with at least one table."""
    return any(isinstance(v, Mapping) for v in values) and all(
        v is None or isinstance(v, Mapping) for v in values
    )


def _reprefix(change: Change, prefix: KeyPath) -> Change:
    key = key_label(prefix) + ("." + change.key if change.key else "")
    message = change.message.replace(f"`{change.key}`", f"`{key}`", 1)
    return Change(change.area, key, change.effect, message, change.old, change.new)
