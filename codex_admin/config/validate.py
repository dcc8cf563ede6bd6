"""`codex config validate`: check files an admin is about to push, without loading a session.

Kinds: `config` (config.toml), `managed` (managed_config.toml: config shape plus the legacy
requirements it implies), `requirements` (requirements.toml). The kind is inferred from the file
name unless given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_admin.config.files import read_text_file
from codex_admin.config.requirements import (
    RequirementsDocument,
    legacy_requirements_document,
    load_requirements_document,
)
from codex_admin.config.spelling import suggest
from codex_admin.config.toml_io import format_key, parse_toml_text
from codex_admin.config.validation import (
    ConfigValidationError,
    Issue,
    feature_warnings,
    issue_at,
    validate_table,
    whole_table_problems,
)
from codex_admin.errors import CodexError, Location

__all__ = ["KINDS", "FileReport", "ValidationReport", "parse_config_document", "validate_files"]

KINDS = ("config", "managed", "requirements")


@dataclass
class FileReport:
    """The check of one file: its errors and warnings."""

    path: Path
    kind: str
    errors: list[Issue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "kind": self.kind,
            "ok": self.ok,
            "errors": [issue.to_json() for issue in self.errors],
            "warnings": self.warnings,
        }


@dataclass
class ValidationReport:
    """The checks of every file looked at."""

    files: list[FileReport]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "files": [f.to_json() for f in self.files]}


def infer_kind(path: Path) -> str:
    name = path.name.lower()
    if name.startswith("requirements") and name.endswith(".toml"):
        return "requirements"
    if name.startswith("managed_config") and name.endswith(".toml"):
        return "managed"
    return "config"


def parse_config_document(
    text: str, *, source: str, path: Path | None, kind: str = "config", strict: bool = False
) -> dict[str, Any]:
    """Parse and validate a config-shaped document used on its own; returns its table.

    Raises located errors; whole-table rules apply (nothing else completes this document).
    """
    where = str(path) if path else source
    table = parse_toml_text(text, where)
    validate_table("config", table, where=where, text=text, unknown="error" if strict else "warn")
    if kind == "managed":
        legacy_requirements_document(table, where, text)
    return table


def validate_files(
    paths: Sequence[Path], kind: str | None = None, strict: bool = False
) -> ValidationReport:
    """Validate every file; never stops at the first bad one."""
    if kind is not None and kind not in KINDS:
        raise CodexError(
            f"unknown kind {kind!r}{suggest(kind, KINDS)}", hint=f"use one of: {', '.join(KINDS)}"
        )
    reports = []
    for path in paths:
        report = FileReport(Path(path), kind or infer_kind(Path(path)))
        try:
            _validate_one(report, strict)
        except ConfigValidationError as err:
            report.errors.extend(err.issues)
        except CodexError as err:
            report.errors.append(Issue(err.message, err.location or Location(path)))
        reports.append(report)
    return ValidationReport(reports)


def _validate_one(report: FileReport, strict: bool) -> None:
    text = read_text_file(report.path, what=f"{report.kind} file")
    if text is None:
        raise CodexError(f"{report.path} does not exist", location=Location(report.path))
    if report.kind == "requirements":
        loaded = load_requirements_document(
            RequirementsDocument(str(report.path), text, report.path), strict=strict
        )
        report.warnings.extend(loaded.warnings)
        return
    where = str(report.path)
    table = parse_toml_text(text, where)
    report.warnings += validate_table(
        "config", table, where=where, text=text, unknown="error" if strict else "warn", partial=True
    )
    report.warnings += feature_warnings(table, where=where, text=text)
    # One layer may hold half a table that another layer completes: a warning, not an error.
    report.warnings += [
        f"{issue_at('', where, text, key).location}: `{format_key(key)}`: {message} (fine only"
        " if another layer completes this table)"
        for key, message in whole_table_problems("config", table)
    ]
    if report.kind == "managed":
        legacy_requirements_document(table, where, text)
        if "projects" in table:
            report.warnings.append(
                f"{where}: `projects` (trust) in managed config marks paths trusted on every"
                " machine it reaches; prefer leaving trust to users"
            )
    _check_profiles(table, where, report)


def _check_profiles(table: dict[str, Any], where: str, report: FileReport) -> None:
    profile = table.get("profile")
    if isinstance(profile, str) and profile not in (table.get("profiles") or {}):
        report.warnings.append(
            f'{where}: `profile = "{profile}"` names a profile this file does not define'
        )
