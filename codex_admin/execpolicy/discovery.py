"""Find and load the rules of a configuration (spec §6).

Each enabled config folder (system dir, ``$CODEX_HOME``, trusted project ``.codex`` dirs; low to
high precedence, as the configuration engine lists them) contributes ``<folder>/rules/*.rules``:
regular files with exactly the ``rules`` extension, not recursive, sorted by path. All files go
through one parser in that order; requirement rules are laid over the result.

Hardening beyond Codex: the ``rules`` folder and each rules file may be symlinks only when they
resolve inside their config folder (a link leaving it is a located error and its target is never
opened), and a discovered file with more than one hard link is loaded without quoting its
source in error messages. Both keep a planted link to a ``deny_read`` secret from leaking the
secret through a parse error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex_admin.errors import CodexError, Location
from codex_admin.execpolicy.files import contained_file
from codex_admin.execpolicy.parser import PolicyParser
from codex_admin.execpolicy.policy import Policy
from codex_admin.execpolicy.requirements import requirement_rules_policy

__all__ = ["RuleFile", "discover_rule_files", "load_configured_policy", "load_policy_files"]


@dataclass(frozen=True)
class RuleFile:
    """A discovered rules file and whether its source may be quoted in errors."""

    path: Path
    quote_source: bool = True


def _discover(config_folders: Iterable[str | Path]) -> list[RuleFile]:
    found: list[RuleFile] = []
    for raw in config_folders:
        folder = Path(raw)
        rules_dir = folder / "rules"
        if not rules_dir.exists() and not rules_dir.is_symlink():
            continue
        contained_file(rules_dir, folder)
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
        for entry in entries:
            if entry.suffix != ".rules" or entry.name == ".rules":
                continue
            contained_file(entry, folder)
            try:
                info = entry.stat()
            except OSError:
                continue  # vanished while listing
            if not entry.is_file():
                continue  # Codex: only regular files (a directory named x.rules is skipped)
            found.append(RuleFile(entry, info.st_nlink <= 1))
    return found


def discover_rule_files(config_folders: Iterable[str | Path]) -> list[Path]:
    """The ``rules/*.rules`` files of ``config_folders``, in load order."""
    return [item.path for item in _discover(config_folders)]


def load_policy_files(
    paths: Iterable[str | Path | RuleFile],
    requirement_rules: Any = None,
    requirement_source: str = "requirements.toml",
) -> Policy:
    """Parse ``paths`` in order, then overlay requirement ``[rules]`` (may be None)."""
    parser = PolicyParser()
    for item in paths:
        if isinstance(item, RuleFile):
            parser.parse_file(item.path, quote_source=item.quote_source)
        else:
            parser.parse_file(item)
    overlay = requirement_rules_policy(requirement_rules, requirement_source)
    if not overlay.rule_count:
        return parser.policy
    return parser.policy.merge_overlay(overlay)


def load_configured_policy(
    config_folders: Iterable[str | Path],
    requirement_rules: Any = None,
    requirement_source: str = "requirements.toml",
) -> tuple[Policy, list[Path]]:
    """Discover and load; returns the policy and the files it came from."""
    files = _discover(config_folders)
    policy = load_policy_files(files, requirement_rules, requirement_source)
    return policy, [item.path for item in files]
