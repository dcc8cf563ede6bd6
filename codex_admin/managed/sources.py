"""Read a policy from what admins ship and compute what it imposes, through the config engine.

A policy source is one of:

* a ``.mobileconfig`` profile or a domain ``.plist`` (decoded by the engine's ``read_mdm_plist``);
* a directory laid out like the system dir: ``managed_config.toml``, ``requirements.toml``,
  ``rules/*.rules`` (a signed bundle or the repository of a policy team);
* one ``.toml`` file: ``requirements*.toml`` is requirements, anything else managed config.

The effective configuration and requirements are computed by the real engine (``load_config``)
in an isolated environment: a scratch ``CODEX_HOME`` and cwd, the source as the only system dir
or MDM domain, so nothing of the machine running the command leaks in. This is exactly what a
fleet machine with only this policy installed would enforce, legacy reinterpretation included.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_admin.config import (
    EffectiveRequirements,
    LoadOptions,
    load_config,
    read_mdm_plist,
    validate_files,
)
from codex_admin.errors import CodexError, Location

__all__ = ["PolicyView", "load_policy", "read_rules_files", "validate_inputs"]

CONFIG_FILE = "managed_config.toml"
REQUIREMENTS_FILE = "requirements.toml"


@dataclass
class PolicyView:
    """One policy source, decoded and evaluated."""

    origin: Path
    kind: str  # mobileconfig | plist | directory | requirements | managed
    config_text: str | None
    requirements_text: str | None
    config: dict[str, Any]
    requirements: EffectiveRequirements
    rules: dict[str, str] = field(default_factory=dict)
    rules_root: Path | None = None  # the directory the rules file names are relative to
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.origin),
            "kind": self.kind,
            "config_toml": self.config_text,
            "requirements_toml": self.requirements_text,
            "effective_config": self.config,
            "effective_requirements": self.requirements.to_json(),
            "rules_files": sorted(self.rules),
            "warnings": self.warnings,
        }


def validate_inputs(config: Path | None, requirements: Path | None) -> None:
    """Validate build inputs with the engine; raise one CodexError listing every issue."""
    problems: list[str] = []
    for path, kind in ((config, "managed"), (requirements, "requirements")):
        if path is None:
            continue
        report = validate_files([path], kind)
        for file in report.files:
            problems += [str(issue) for issue in file.errors]
    if problems:
        raise CodexError(
            "refusing to build from invalid input:\n  " + "\n  ".join(problems),
            hint="fix the errors above (`codex config validate FILE` checks one file)",
        )


def read_rules_files(directory: Path) -> dict[str, str]:
    """``*.rules`` at the top of ``directory`` and under ``rules/`` (relative name -> text)."""
    found: dict[str, str] = {}
    for pattern in ("*.rules", "rules/**/*.rules"):
        for path in sorted(directory.glob(pattern)):
            if path.is_file() and not path.is_symlink():
                found[path.relative_to(directory).as_posix()] = _read_text(path)
    return found


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise CodexError("file is not UTF-8", location=Location(path)) from err
    except OSError as err:
        raise CodexError(f"cannot read {path}: {err.strerror}", location=Location(path)) from err


def load_policy(path: Path) -> PolicyView:
    """Decode ``path`` (see the module docstring) and evaluate it in isolation."""
    if not path.exists():
        raise CodexError(f"{path} does not exist", location=Location(path))
    with tempfile.TemporaryDirectory(prefix="codex-managed-") as scratch:
        root = Path(scratch)
        (root / "home").mkdir()
        (root / "cwd").mkdir()
        empty_system = root / "system"
        empty_system.mkdir()
        if path.is_dir():
            config_file, req_file = path / CONFIG_FILE, path / REQUIREMENTS_FILE
            view = _evaluate(
                path,
                "directory",
                _optional(config_file),
                _optional(req_file),
                system=path,
                plist=None,
                scratch=root,
            )
            view.rules = read_rules_files(path)
            view.rules_root = path
            return view
        suffix = path.suffix.lower()
        if suffix in (".mobileconfig", ".plist"):
            payload = read_mdm_plist(path)
            return _evaluate(
                path,
                suffix.lstrip("."),
                payload.config_text,
                payload.requirements_text,
                system=empty_system,
                plist=path,
                scratch=root,
            )
        if suffix == ".toml":
            kind = "requirements" if path.name.lower().startswith("requirements") else "managed"
            validate_inputs(
                path if kind == "managed" else None, path if kind == "requirements" else None
            )
            target = empty_system / (REQUIREMENTS_FILE if kind == "requirements" else CONFIG_FILE)
            shutil.copyfile(path, target)
            text = _read_text(path)
            return _evaluate(
                path,
                kind,
                text if kind == "managed" else None,
                text if kind == "requirements" else None,
                system=empty_system,
                plist=None,
                scratch=root,
            )
    raise CodexError(
        f"{path}: not a policy source",
        location=Location(path),
        hint="give a .mobileconfig, a .plist, a requirements/managed_config .toml or a directory",
    )


def _optional(path: Path) -> str | None:
    return _read_text(path) if path.is_file() else None


def _evaluate(
    origin: Path,
    kind: str,
    config_text: str | None,
    requirements_text: str | None,
    *,
    system: Path,
    plist: Path | None,
    scratch: Path,
) -> PolicyView:
    result = load_config(
        LoadOptions(
            cwd=scratch / "cwd",
            codex_home=scratch / "home",
            system_dir=system,
            mdm_plist=plist,
            no_mdm=plist is None,
        )
    )
    return PolicyView(
        origin=origin,
        kind=kind,
        config_text=config_text,
        requirements_text=requirements_text,
        config=result.config,
        requirements=result.requirements,
        warnings=list(result.warnings),
    )
