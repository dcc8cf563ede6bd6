"""Load the five config layers and the requirements, merge, resolve: the engine's entry point.

Layers, highest precedence first (ARCHITECTURE.md, following the seeds): `-c` overrides (and the
dedicated flags, applied at resolution); a selected `[profiles.NAME]`; MDM `config_toml_base64`;
`<system dir>/managed_config.toml`; project `.codex/config.toml` from cwd up to the project root
(trusted projects only); `$CODEX_HOME/config.toml`; `<system dir>/config.toml`; built-in defaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_admin.config.layers import PROJECT_DENYLIST, Layer, resolve_paths
from codex_admin.config.mdm import CONFIG_KEY, DOMAIN, REQUIREMENTS_KEY, read_mdm_plist
from codex_admin.config.merge import merge_into
from codex_admin.config.models import ConfigToml
from codex_admin.config.overrides import parse_overrides
from codex_admin.config.paths import codex_home, mdm_plist_candidates, system_dir
from codex_admin.config.project import discover_project
from codex_admin.config.requirements import (
    EffectiveRequirements,
    RequirementsDocument,
    compose_requirements,
    legacy_requirements_document,
)
from codex_admin.config.resolve import Flags, resolve_effective
from codex_admin.config.toml_io import parse_toml_text, read_text_file
from codex_admin.config.validation import validate_table
from codex_admin.errors import CodexError, Location

__all__ = ["ConfigResult", "LoadOptions", "RequirementSource", "load_config"]

MDM_REQUIREMENTS_SOURCE = f"MDM {DOMAIN}:{REQUIREMENTS_KEY}"
MDM_CONFIG_SOURCE = f"MDM {DOMAIN}:{CONFIG_KEY}"
LEGACY_MDM_SOURCE = "MDM managed_config.toml (legacy)"


@dataclass(frozen=True)
class LoadOptions:
    """Everything that selects or overrides configuration for one invocation."""

    cwd: Path | None = None
    overrides: Sequence[str] = ()
    profile: str | None = None
    flags: Flags = field(default_factory=Flags)
    strict: bool = False
    # The seam for a remote signed requirements source: called once, highest precedence.
    remote_requirements: Callable[[], RequirementsDocument | None] | None = None
    hostname: str | None = None
    # Explicit locations (default: CODEX_HOME, CODEX_SYSTEM_DIR, CODEX_MDM_PLIST / the real
    # managed preferences). Tools that evaluate a policy in isolation set them instead of
    # mutating the process environment; ``no_mdm`` ignores every MDM source.
    codex_home: Path | None = None
    system_dir: Path | None = None
    mdm_plist: Path | None = None
    no_mdm: bool = False
    ignore_user_config: bool = False


@dataclass(frozen=True)
class RequirementSource:
    """A requirements source that was consulted (present or not), for `requirements show`."""

    name: str
    path: Path | None
    present: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path) if self.path else None,
            "present": self.present,
        }


@dataclass
class ConfigResult:
    cwd: Path
    project_root: Path
    project_trust: str | None
    codex_home: Path
    system_dir: Path
    layers: list[Layer]  # lowest precedence first
    config: dict[str, Any]
    origins: dict[str, str]
    resolved: dict[str, Any]
    resolved_sources: dict[str, str]
    fallbacks: dict[str, dict[str, Any]]
    requirements: EffectiveRequirements
    requirement_sources: list[RequirementSource]
    warnings: list[str]

    @property
    def config_folders(self) -> list[Path]:
        """Enabled config folders, low to high: system dir, CODEX_HOME, trusted project `.codex`s.

        Their `rules/`, `skills/` and hooks are honoured (a folder counts even without a
        config.toml).
        """
        folders = [self.system_dir, self.codex_home]
        folders += [
            layer.path.parent
            for layer in self.layers
            if layer.kind == "project" and layer.enabled and layer.path
        ]
        return folders

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "resolved": self.resolved,
            "resolved_sources": self.resolved_sources,
            "origins": self.origins,
            "layers": [layer.to_json() for layer in reversed(self.layers)],
            "requirements": self.requirements.to_json(),
            "warnings": self.warnings,
        }


def load_config(options: LoadOptions | None = None) -> ConfigResult:
    """Load, validate, merge and resolve. Raises :class:`CodexError` on any bad input."""
    opts = options or LoadOptions()
    home = opts.codex_home if opts.codex_home is not None else codex_home()
    sysdir = opts.system_dir if opts.system_dir is not None else system_dir()
    cwd = _cwd(opts.cwd)
    warnings: list[str] = []

    session = Layer("session_flags", "session_flags", None, parse_overrides(opts.overrides))
    _validate(session, opts.strict, warnings, "-c/--config override")
    resolve_paths(session.table, cwd)

    system = _file_layer("system", "system", sysdir / "config.toml", sysdir, opts, warnings)
    user_path = home / "config.toml"
    user = _file_layer("user", "user", user_path, home, opts, warnings)
    if opts.ignore_user_config:
        # `codex exec --ignore-user-config`: the file is not read into the config (nor its
        # project trust); the folder still counts for rules unless --ignore-rules.
        user.table, user.enabled, user.disabled_reason = {}, False, "--ignore-user-config"
    managed = _file_layer(
        "managed_config", "managed_config", sysdir / "managed_config.toml", sysdir, opts, warnings
    )
    mdm_payload = _read_mdm(opts)
    mdm = Layer("mdm", "mdm", mdm_payload.path if mdm_payload else None, exists=False)
    if mdm_payload and mdm_payload.config_text is not None:
        mdm.exists, mdm.text = True, mdm_payload.config_text
        mdm.table = _parse_mdm_config(mdm_payload.config_text, mdm_payload.path)
        _validate(mdm, opts.strict, warnings, MDM_CONFIG_SOURCE)
        resolve_paths(mdm.table, home)

    provisional: dict[str, Any] = {}
    for layer in (system, user, session):
        merge_into(provisional, layer.table, {}, layer.name)
    markers = provisional.get("project_root_markers", [".git"])
    if not isinstance(markers, list) or not all(isinstance(m, str) for m in markers):
        raise CodexError("project_root_markers must be an array of strings")
    root, project_dirs, project_trust = discover_project(
        cwd, markers, provisional.get("projects") or {}, home, user_path
    )
    projects = [_project_layer(p, opts, warnings) for p in project_dirs]

    layers = [system, user, *projects, managed, mdm]
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer.enabled:
            merge_into(merged, layer.table, {}, layer.name)
    merge_into(merged, session.table, {}, session.name)
    profile = _profile_layer(opts.profile or merged.get("profile"), merged)
    if profile:
        layers.append(profile)
    layers.append(session)

    config: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for layer in layers:
        if layer.enabled:
            merge_into(config, layer.table, origins, layer.name)

    requirements, sources = _requirements(opts, sysdir, mdm_payload, managed, mdm)
    warnings.extend(requirements.warnings)
    paths = {layer.name: layer.path for layer in layers}

    def describe(name: str) -> str:
        path = paths.get(name)
        return f"{name} ({path})" if path else name

    resolution = resolve_effective(
        config, origins, requirements, opts.flags, project_trust, describe
    )
    warnings.extend(resolution.warnings)
    resolved = {
        **resolution.values,
        "profile": profile.name.removeprefix("profile:") if profile else None,
        "cwd": str(cwd),
        "project_root": str(root),
        "project_trust": project_trust,
    }
    return ConfigResult(
        cwd=cwd,
        project_root=root,
        project_trust=project_trust,
        codex_home=home,
        system_dir=sysdir,
        layers=layers,
        config=config,
        origins=origins,
        resolved=resolved,
        resolved_sources=resolution.sources,
        fallbacks=resolution.fallbacks,
        requirements=requirements,
        requirement_sources=sources,
        warnings=warnings,
    )


def _cwd(given: Path | None) -> Path:
    cwd = Path(given).expanduser() if given is not None else Path(os.getcwd())
    cwd = cwd.absolute()
    if not cwd.is_dir():
        raise CodexError(
            f"working directory {cwd} does not exist or is not a directory",
            hint="pass an existing directory to -C/--cd",
        )
    return cwd


def _validate(layer: Layer, strict: bool, warnings: list[str], where: str | None = None) -> None:
    location = where or (str(layer.path) if layer.path else layer.name)
    _, found = validate_table(
        ConfigToml, layer.table, where=location, text=layer.text, strict=strict, drop_unknown=False
    )
    warnings.extend(found)


def _file_layer(
    name: str, kind: str, path: Path, base: Path, opts: LoadOptions, warnings: list[str]
) -> Layer:
    text = read_text_file(path)
    layer = Layer(name, kind, path, exists=text is not None, text=text)
    if text is not None:
        layer.table = parse_toml_text(text, str(path))
        _validate(layer, opts.strict, warnings)
        resolve_paths(layer.table, base)
    return layer


def _project_layer(project: Any, opts: LoadOptions, warnings: list[str]) -> Layer:
    path: Path = project.codex_dir / "config.toml"
    layer = Layer(
        f"project:{project.dir}",
        "project",
        path,
        enabled=project.enabled,
        disabled_reason=project.disabled_reason,
    )
    if not project.enabled:
        # Untrusted content is never parsed into the effective config (its errors are ignored).
        layer.exists = path.is_file()
        return layer
    text = read_text_file(path)
    layer.exists, layer.text = text is not None, text
    if text is None:
        return layer
    try:
        layer.table = parse_toml_text(text, str(path))
    except CodexError as err:
        raise CodexError(
            f"Error parsing project config file {path}: {err.message}",
            location=err.location,
            hint=err.hint,
        ) from None
    stripped = [k for k in PROJECT_DENYLIST if k in layer.table]
    features = layer.table.get("features")
    if isinstance(features, dict) and "respect_system_proxy" in features:
        del features["respect_system_proxy"]
        stripped.append("features.respect_system_proxy")
    for key in stripped:
        layer.table.pop(key, None)
    if stripped:
        warnings.append(
            f"Ignored unsupported project-local config keys in {path}: {', '.join(stripped)}."
            " If you want these settings to apply, manually set them in your user-level"
            " config.toml."
        )
    _validate(layer, opts.strict, warnings)
    resolve_paths(layer.table, project.codex_dir)
    return layer


def _read_mdm(opts: LoadOptions) -> Any:
    if opts.mdm_plist is not None:
        return read_mdm_plist(opts.mdm_plist)
    if opts.no_mdm:
        return None
    for candidate in mdm_plist_candidates():
        if os.environ.get("CODEX_MDM_PLIST") or candidate.exists():
            return read_mdm_plist(candidate)
    return None


def _parse_mdm_config(text: str, plist: Path) -> dict[str, Any]:
    where = f"{MDM_CONFIG_SOURCE} (in {plist})"
    table = parse_toml_text(text, where)
    if not isinstance(table, dict):  # pragma: no cover - tomllib always returns a table
        raise CodexError("managed config root must be a table", location=Location(where))
    return table


def _profile_layer(name: Any, merged: dict[str, Any]) -> Layer | None:
    if name is None:
        return None
    if not isinstance(name, str) or not name:
        raise CodexError("`profile` must be a non-empty string naming a [profiles.NAME] table")
    profiles = merged.get("profiles") or {}
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none defined"
        raise CodexError(
            f"config profile `{name}` not found",
            hint=f"define [profiles.{name}] in config.toml (known: {known})",
        )
    return Layer(f"profile:{name}", "profile", None, dict(profiles[name]))


def _requirements(
    opts: LoadOptions, sysdir: Path, mdm_payload: Any, managed: Layer, mdm: Layer
) -> tuple[EffectiveRequirements, list[RequirementSource]]:
    docs: list[RequirementsDocument | tuple[str, dict[str, Any]]] = []
    sources: list[RequirementSource] = []
    if opts.remote_requirements is not None:
        remote = opts.remote_requirements()
        sources.append(
            RequirementSource(
                remote.source if remote else "remote requirements (not configured)",
                None,
                remote is not None,
            )
        )
        if remote is not None:
            docs.append(remote)
    mdm_text = mdm_payload.requirements_text if mdm_payload else None
    sources.append(
        RequirementSource(
            MDM_REQUIREMENTS_SOURCE, mdm_payload.path if mdm_payload else None, mdm_text is not None
        )
    )
    if mdm_text is not None:
        docs.append(RequirementsDocument(MDM_REQUIREMENTS_SOURCE, mdm_text))
    path = sysdir / "requirements.toml"
    text = read_text_file(path, what="requirements file")
    sources.append(RequirementSource(str(path), path, text is not None))
    if text is not None:
        docs.append(RequirementsDocument(str(path), text, path))
    sources.append(RequirementSource(LEGACY_MDM_SOURCE, mdm.path, mdm.exists))
    if mdm.exists:
        docs.append(
            (
                LEGACY_MDM_SOURCE,
                legacy_requirements_document(mdm.table, MDM_CONFIG_SOURCE, mdm.text),
            )
        )
    sources.append(RequirementSource(f"{managed.path} (legacy)", managed.path, managed.exists))
    if managed.exists:
        docs.append(
            (
                str(managed.path),
                legacy_requirements_document(managed.table, str(managed.path), managed.text),
            )
        )
    return compose_requirements(docs, strict=opts.strict, hostname=opts.hostname), sources
