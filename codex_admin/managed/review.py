"""`codex managed diff`: load two policy sources and describe the change in reviewer terms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from codex_admin.managed.changes import Change, PolicyDiff, RulesDiffer
from codex_admin.managed.diff import diff_policy
from codex_admin.managed.rules_diff import diff_rule_files
from codex_admin.managed.sources import PolicyView, load_policy

__all__ = ["diff_sources"]


def _effective(view: PolicyView) -> dict[str, Any]:
    return {name: entry["value"] for name, entry in view.requirements.to_json().items()}


def _rule_paths(view: PolicyView) -> list[Path]:
    root = view.rules_root
    return [root / name for name in sorted(view.rules)] if root is not None else []


def _relative(key: str, roots: list[str]) -> str:
    for root in roots:
        if key.startswith(root):
            return key[len(root) :]
    return key


def _rules_differ(before: PolicyView, after: PolicyView) -> RulesDiffer:
    """Rule-by-rule review of the two sides' ``*.rules`` files."""

    def differ(_old: Mapping[str, str], _new: Mapping[str, str]) -> list[Change]:
        changes = diff_rule_files(_rule_paths(before), _rule_paths(after))
        roots = [str(v.rules_root) + "/" for v in (before, after) if v.rules_root is not None]
        return [replace(c, key=_relative(c.key, roots)) for c in changes]

    return differ


def diff_sources(old: Path, new: Path) -> tuple[PolicyDiff, PolicyView, PolicyView]:
    """Diff two sources (mobileconfig, plist, directory or .toml); both must be valid."""
    before, after = load_policy(old), load_policy(new)
    result = diff_policy(
        _effective(before),
        _effective(after),
        before.config,
        after.config,
        before.rules,
        after.rules,
        rules_differ=_rules_differ(before, after),
    )
    return result, before, after
