"""`codex managed diff`: load two policy sources and describe the change in reviewer terms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codex_admin.managed.diff import PolicyDiff, diff_policy
from codex_admin.managed.sources import PolicyView, load_policy

__all__ = ["diff_sources"]


def _effective(view: PolicyView) -> dict[str, Any]:
    return {name: entry["value"] for name, entry in view.requirements.to_json().items()}


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
    )
    return result, before, after
