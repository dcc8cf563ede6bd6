"""Read a policy from what admins ship and compute what it imposes, through the config engine.

A policy source is one of:

* a ``.mobileconfig`` profile or a domain ``.plist`` (decoded by the engine's ``read_mdm_plist``);
* a directory laid out like the system dir: ``managed_config.toml``, ``requirements.toml``,
  ``rules/*.rules`` (a signed bundle or the repository of a policy team);
* one ``.toml`` file: ``requirements*.toml`` is requirements, anything else managed config.

Before anything is evaluated the inputs get the checks of :mod:`.checks` (the validation of
``codex config validate``, the wrong kind of file, typo'd MDM keys); after, the contradictions
between the managed config and its requirements. Any error fails the load (fail closed), so a
policy with a mistake can neither be shown as "ok" nor diffed nor built.

The effective configuration and requirements are computed by the real engine (``load_config``)
in an isolated environment: a scratch ``CODEX_HOME`` and cwd, the source as the only system dir
or MDM domain, so nothing of the machine running the command leaks in. This is exactly what a
fleet machine with only this policy installed would enforce, legacy reinterpretation included.
A single file is copied into a scratch system dir; every message names the original file, never
the scratch copy.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_admin.config import (
    EffectiveRequirements,
    Issue,
    LoadOptions,
    RequirementValue,
    load_config,
    mdm_key_warnings,
    read_mdm_plist,
    read_text_file,
)
from codex_admin.errors import CodexError, Location
from codex_admin.managed.checks import (
    CONFIG_FILE,
    REQUIREMENTS_FILE,
    PolicyReport,
    check_policy_files,
    contradictions,
)
from codex_admin.managed.rules_diff import check_rule_files

__all__ = [
    "PolicyView",
    "check_build_inputs",
    "check_bundle_dir",
    "load_policy",
    "read_rules_files",
]


@dataclass
class PolicyView:
    """One policy source, decoded, checked and evaluated."""

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


# ---------------------------------------------------------------------------------- the checks


def check_build_inputs(config: Path | None, requirements: Path | None) -> PolicyReport:
    """What `managed build` checks: each file as `config validate` would, the kinds, and the
    contradictions between the two."""
    return check_policy_files(config, requirements, evaluate=_pair_evaluator(config, requirements))


def check_bundle_dir(bundle_dir: Path) -> PolicyReport:
    """What `managed sign` checks: a ``requirements.toml`` must be there and, like a
    ``managed_config.toml`` and every ``*.rules`` file, be valid; then the contradictions."""
    if not bundle_dir.is_dir():
        raise CodexError(
            f"bundle directory {bundle_dir} does not exist or is not a directory",
            location=Location(bundle_dir),
        )
    requirements = bundle_dir / REQUIREMENTS_FILE
    config = bundle_dir / CONFIG_FILE
    if not requirements.exists() and not requirements.is_symlink():
        return PolicyReport(
            errors=[
                Issue(
                    f"the bundle has no {REQUIREMENTS_FILE}: remote requirements would have "
                    "nothing to enforce",
                    Location(bundle_dir),
                )
            ]
        )
    chosen = config if config.exists() or config.is_symlink() else None
    report = check_policy_files(
        chosen, requirements, evaluate=_pair_evaluator(chosen, requirements)
    )
    rules = [bundle_dir / name for name in read_rules_files(bundle_dir)]
    report.errors += check_rule_files(rules)
    return report


def _pair_evaluator(
    config: Path | None, requirements: Path | None
) -> Callable[[str | None, str | None], list[Issue]]:
    def evaluate(config_text: str | None, requirements_text: str | None) -> list[Issue]:
        if config is None or config_text is None:
            return []
        files = {CONFIG_FILE: (config, config_text)}
        if requirements is not None and requirements_text is not None:
            files[REQUIREMENTS_FILE] = (requirements, requirements_text)
        with _scratch() as root:
            for name, (_, text) in files.items():
                (root / "system" / name).write_text(text, encoding="utf-8")
            relocate = _relocator({root / "system" / n: p for n, (p, _) in files.items()})
            with _relocated_errors(relocate):
                result = load_config(_options(root, root / "system", None))
        return contradictions(
            result.config,
            _relocate_requirements(result.requirements, relocate),
            {
                k: {**v, "requirement_source": relocate(str(v.get("requirement_source")))}
                for k, v in result.fallbacks.items()
            },
            config_where=str(config),
            config_text=config_text,
        )

    return evaluate


# ------------------------------------------------------------------------------------ loading


def read_rules_files(directory: Path) -> dict[str, str]:
    """``*.rules`` at the top of ``directory`` and under ``rules/`` (relative name -> text)."""
    found: dict[str, str] = {}
    for pattern in ("*.rules", "rules/**/*.rules"):
        for path in sorted(directory.glob(pattern)):
            if path.is_file() and not path.is_symlink():
                found[path.relative_to(directory).as_posix()] = _read_text(path)
    return found


def _read_text(path: Path) -> str:
    text = read_text_file(path, what="policy file")
    if text is None:
        raise CodexError(f"{path} does not exist", location=Location(path))
    return text


def load_policy(path: Path) -> PolicyView:
    """Decode and check ``path`` (see the module docstring), then evaluate it in isolation."""
    if not path.exists():
        raise CodexError(f"{path} does not exist", location=Location(path))
    if path.is_dir():
        config_file, req_file = path / CONFIG_FILE, path / REQUIREMENTS_FILE
        config = config_file if config_file.is_file() else None
        requirements = req_file if req_file.is_file() else None
        report = check_policy_files(config, requirements)
        report.errors += check_rule_files([path / name for name in read_rules_files(path)])
        report.raise_if_failed("invalid policy")
        view = _evaluate(
            path,
            "directory",
            _read_text(config) if config else None,
            _read_text(requirements) if requirements else None,
            system=path,
            plist=None,
            config_where=str(config_file),
        )
        view.rules = read_rules_files(path)
        view.rules_root = path
        view.warnings = _unique(report.warnings + view.warnings)
        return view
    suffix = path.suffix.lower()
    if suffix in (".mobileconfig", ".plist"):
        payload = read_mdm_plist(path)
        unknown = mdm_key_warnings(payload)
        PolicyReport(errors=[Issue(w, None) for w in unknown]).raise_if_failed("invalid policy")
        return _evaluate(
            path,
            suffix.lstrip("."),
            payload.config_text,
            payload.requirements_text,
            system=None,
            plist=path,
            config_where=f"{path} (config_toml_base64)",
        )
    if suffix == ".toml":
        kind = "requirements" if path.name.lower().startswith("requirements") else "managed"
        report = check_policy_files(
            path if kind == "managed" else None, path if kind == "requirements" else None
        )
        report.raise_if_failed("invalid policy")
        text = _read_text(path)
        view = _evaluate(
            path,
            kind,
            text if kind == "managed" else None,
            text if kind == "requirements" else None,
            system=None,
            plist=None,
            config_where=str(path),
            single=(REQUIREMENTS_FILE if kind == "requirements" else CONFIG_FILE, path),
        )
        view.warnings = _unique(report.warnings + view.warnings)
        return view
    raise CodexError(
        f"{path}: not a policy source",
        location=Location(path),
        hint="give a .mobileconfig, a .plist, a requirements/managed_config .toml or a directory",
    )


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


@contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="codex-managed-") as scratch:
        root = Path(scratch)
        for name in ("home", "cwd", "system"):
            (root / name).mkdir()
        yield root


def _options(root: Path, system: Path, plist: Path | None) -> LoadOptions:
    return LoadOptions(
        cwd=root / "cwd",
        codex_home=root / "home",
        system_dir=system,
        mdm_plist=plist,
        no_mdm=plist is None,
    )


def _relocator(copies: Mapping[Path, Path]) -> Callable[[str], str]:
    """Rewrites scratch-copy paths in a message to the files the admin gave."""

    def relocate(text: str) -> str:
        for copy, original in copies.items():
            text = text.replace(str(copy), str(original))
        return text

    return relocate


@contextmanager
def _relocated_errors(relocate: Callable[[str], str]) -> Iterator[None]:
    try:
        yield
    except CodexError as err:
        location = err.location
        if location is not None:
            location = Location(relocate(location.path), location.line, location.column)
        raise CodexError(
            relocate(err.message),
            location=location,
            hint=relocate(err.hint) if err.hint else None,
        ) from None


def _relocate_requirements(
    requirements: EffectiveRequirements, relocate: Callable[[str], str]
) -> EffectiveRequirements:
    return EffectiveRequirements(
        fields={
            name: RequirementValue(entry.value, relocate(entry.source))
            for name, entry in requirements.fields.items()
        },
        warnings=[relocate(w) for w in requirements.warnings],
    )


def _evaluate(
    origin: Path,
    kind: str,
    config_text: str | None,
    requirements_text: str | None,
    *,
    system: Path | None,
    plist: Path | None,
    config_where: str,
    single: tuple[str, Path] | None = None,
) -> PolicyView:
    with _scratch() as root:
        copies: dict[Path, Path] = {}
        if single is not None:
            name, original = single
            shutil.copyfile(original, root / "system" / name)
            copies[root / "system" / name] = original
        relocate = _relocator(copies)
        with _relocated_errors(relocate):
            result = load_config(_options(root, system or root / "system", plist))
    requirements = _relocate_requirements(result.requirements, relocate)
    problems = contradictions(
        result.config,
        requirements,
        result.fallbacks,
        config_where=config_where,
        config_text=config_text if plist is None else None,
    )
    PolicyReport(errors=problems).raise_if_failed("invalid policy")
    warnings = [relocate(w) for w in result.warnings]
    return PolicyView(
        origin=origin,
        kind=kind,
        config_text=config_text,
        requirements_text=requirements_text,
        config=result.config,
        requirements=requirements,
        warnings=warnings,
    )
