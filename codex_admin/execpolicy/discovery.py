"""Find and load the rules of a configuration (spec §6).

Each enabled config folder (system dir, ``$CODEX_HOME``, trusted project ``.codex`` dirs; low to
high precedence, as the configuration engine lists them) contributes ``<folder>/rules/*.rules``:
regular files with exactly the ``rules`` extension, not recursive, sorted by path. All files go
through one parser in that order; requirement rules are laid over the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from codex_admin.errors import CodexError, Location
from codex_admin.execpolicy.parser import PolicyParser
from codex_admin.execpolicy.policy import Policy
from codex_admin.execpolicy.requirements import requirement_rules_policy

__all__ = ["discover_rule_files", "load_configured_policy", "load_policy_files"]


def discover_rule_files(config_folders: Iterable[str | Path]) -> list[Path]:
    found: list[Path] = []
    for folder in config_folders:
        rules_dir = Path(folder) / "rules"
        if not rules_dir.exists() and not rules_dir.is_symlink():
            continue
        if not rules_dir.is_dir():
            raise CodexError(
                f"failed to read rules files from {rules_dir}: not a directory",
                location=Location(rules_dir),
                hint="`rules` inside a config folder must be a directory of *.rules files",
            )
        try:
            entries = sorted(rules_dir.iterdir())
        except OSError as err:
            raise CodexError(
                f"failed to read rules files from {rules_dir}: {err.strerror or err}",
                location=Location(rules_dir),
            ) from None
        found.extend(
            p for p in entries if p.suffix == ".rules" and p.name != ".rules" and p.is_file()
        )
    return found


def load_policy_files(
    paths: Iterable[str | Path],
    requirement_rules: Any = None,
    requirement_source: str = "requirements.toml",
) -> Policy:
    """Parse ``paths`` in order, then overlay requirement ``[rules]`` (may be None)."""
    parser = PolicyParser()
    for path in paths:
        parser.parse_file(path)
    overlay = requirement_rules_policy(requirement_rules, requirement_source)
    return parser.policy.merge_overlay(overlay)


def load_configured_policy(
    config_folders: Iterable[str | Path],
    requirement_rules: Any = None,
    requirement_source: str = "requirements.toml",
) -> tuple[Policy, list[Path]]:
    """Discover and load; returns the policy and the files it came from."""
    files = discover_rule_files(config_folders)
    return load_policy_files(files, requirement_rules, requirement_source), files
