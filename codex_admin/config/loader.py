"""Load the five config layers and the requirements, merge, resolve: the engine's entry point.

Layers, highest precedence first (ARCHITECTURE.md, following the seeds): `-c` overrides (and the
dedicated flags, applied at resolution); a selected `[profiles.NAME]`; MDM `config_toml_base64`;
`<system dir>/managed_config.toml`; project `.codex/config.toml` from cwd up to the project root
(trusted projects only); `$CODEX_HOME/config.toml`; `<system dir>/config.toml`; built-in defaults.

The order of work, and why:

1. system, user and `-c` layers -- each parsed once, checked alone (types, unknown keys;
   `partial`, since one layer may hold half a table) -- give the project markers and the trust
   table; a project can never trust itself;
2. project discovery (:mod:`.project`), then the trust gate (:mod:`.trust`): a trusted
   project layer loads only if its `.codex` folder matches the record made when it was
   trusted, so nothing a sandboxed command wrote is read, let alone parsed;
3. the merge of the enabled layers, then the whole-table rules on the result, each error
   located at the layer that introduced the table;
4. requirements (fail closed), then resolution and clamping (:mod:`.resolve`).

:func:`trust_project` is the writer behind `codex config trust`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_admin.config.files import read_text_file, write_file_atomic
from codex_admin.config.layers import PROJECT_DENYLIST, Layer, resolve_paths
from codex_admin.config.mdm import (
    CONFIG_KEY,
    DOMAIN,
    REQUIREMENTS_KEY,
    MdmPayload,
    mdm_key_warnings,
    read_mdm_plist,
)
from codex_admin.config.merge import merge_into
from codex_admin.config.overrides import parse_overrides
from codex_admin.config.paths import (
    codex_home,
    ignored_location_overrides,
    mdm_plist_candidates,
    system_dir,
)
from codex_admin.config.project import Canonical, ProjectDir, discover_project, find_project_root
from codex_admin.config.requirements import (
    EffectiveRequirements,
    RequirementsDocument,
    compose_requirements,
    legacy_requirements_document,
)
from codex_admin.config.resolve import Flags, resolve_effective
from codex_admin.config.toml_io import format_key, parse_toml_text
from codex_admin.config.trust import (
    LayerRefused,
    ProjectRecord,
    TrustGate,
    TrustStore,
    fingerprint,
    layer_key,
    now_iso,
    scan_project,
)
from codex_admin.config.validation import (
    ConfigValidationError,
    Issue,
    feature_warnings,
    issue_at,
    validate_table,
    whole_table_problems,
)
from codex_admin.errors import CodexError, Location

__all__ = [
    "ConfigResult",
    "LoadOptions",
    "RequirementSource",
    "TrustResult",
    "load_config",
    "trust_project",
]

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
    """The merged configuration of a directory: layers, values, origins, requirements."""

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
    # Keys of the MDM `com.openai.codex` domain that Codex does not read (a typo such as
    # `requirement_toml_base64` would otherwise drop the organisation's policy silently).
    mdm_unknown_keys: list[str] = field(default_factory=list)

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
            "mdm_unknown_keys": self.mdm_unknown_keys,
        }


def load_config(options: LoadOptions | None = None) -> ConfigResult:
    """Load, validate, merge and resolve. Raises :class:`CodexError` on any bad input."""
    opts = options or LoadOptions()
    base = _base_layers(opts)
    home, sysdir, cwd, warnings = base.home, base.sysdir, base.cwd, base.warnings
    system, user, session = base.system, base.user, base.session
    managed = _file_layer(
        "managed_config", "managed_config", sysdir / "managed_config.toml", sysdir, opts, warnings
    )
    mdm_payload = _read_mdm(opts)
    mdm = Layer("mdm", "mdm", mdm_payload.path if mdm_payload else None, exists=False)
    if mdm_payload is not None:
        warnings.extend(mdm_key_warnings(mdm_payload))
    if mdm_payload and mdm_payload.config_text is not None:
        mdm.exists, mdm.text = True, mdm_payload.config_text
        mdm.table = _parse_mdm_config(mdm_payload.config_text, mdm_payload.path)
        _validate(mdm, opts, warnings, MDM_CONFIG_SOURCE)
        resolve_paths(mdm.table, home)

    canon = Canonical()
    root, project_dirs, project_trust = discover_project(
        cwd, base.markers, base.projects, home, base.user_path, canon
    )
    gate = TrustGate(home, root, canon)
    projects = [_project_layer(p, gate, opts, warnings) for p in project_dirs]
    if project_trust == "trusted":
        # Also when no `.codex` folder exists yet: the record made now (first use of a trust
        # entry) is what makes a folder created later by a sandboxed command "new".
        warnings.extend(gate.vanished(cwd, {p.dir for p in project_dirs}))

    layers = [system, user, *projects, managed, mdm]
    config: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for layer in layers:
        if layer.enabled:
            merge_into(config, layer.table, origins, layer.name)
    profile = _profile_layer(opts.profile, config, session.table)
    if profile:
        layers.append(profile)
        merge_into(config, profile.table, origins, profile.name)
    layers.append(session)
    merge_into(config, session.table, origins, session.name)
    _validate_merged(config, origins, layers)

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
        mdm_unknown_keys=list(mdm_payload.unknown_keys) if mdm_payload else [],
    )


@dataclass
class _Base:
    """The layers project discovery depends on, loaded once (system, user, `-c`)."""

    home: Path
    sysdir: Path
    cwd: Path
    warnings: list[str]
    system: Layer
    user: Layer
    user_path: Path
    session: Layer
    projects: dict[str, Any]  # the merged `projects` trust table
    markers: list[str]


def _base_layers(opts: LoadOptions) -> _Base:
    home = opts.codex_home if opts.codex_home is not None else codex_home()
    sysdir = opts.system_dir if opts.system_dir is not None else system_dir()
    cwd = _cwd(opts.cwd)
    warnings: list[str] = ignored_location_overrides() if opts.system_dir is None else []
    session = Layer("session_flags", "session_flags", None, parse_overrides(opts.overrides))
    _validate(session, opts, warnings, "-c/--config override")
    resolve_paths(session.table, cwd)
    system = _file_layer("system", "system", sysdir / "config.toml", sysdir, opts, warnings)
    user_path = home / "config.toml"
    user = _file_layer("user", "user", user_path, home, opts, warnings)
    if opts.ignore_user_config:
        # `codex exec --ignore-user-config`: the file is not read into the config (nor its
        # project trust); the folder still counts for rules unless --ignore-rules.
        user.table, user.enabled, user.disabled_reason = {}, False, "--ignore-user-config"
    # Discovery reads two keys of the system + user + `-c` merge; only those are merged.
    projects: dict[str, Any] = {}
    markers: Any = [".git"]
    for layer in (system, user, session):
        if isinstance(layer.table.get("projects"), dict):
            merge_into(projects, layer.table["projects"], {}, layer.name)
        markers = layer.table.get("project_root_markers", markers)
    if not isinstance(markers, list) or not all(isinstance(m, str) for m in markers):
        raise CodexError("project_root_markers must be an array of strings")
    return _Base(home, sysdir, cwd, warnings, system, user, user_path, session, projects, markers)


def _validate_merged(config: dict[str, Any], origins: dict[str, str], layers: list[Layer]) -> None:
    """Whole-table rules on the merge, each error located at the layer that introduced it."""
    problems = whole_table_problems("config", config)
    if not problems:
        return
    rank = {layer.name: index for index, layer in enumerate(layers)}
    by_name = {layer.name: layer for layer in layers}
    issues: list[Issue] = []
    for path, message in problems:
        prefix = format_key(path)
        setters = [
            origin
            for key, origin in origins.items()
            if key == prefix or key.startswith(prefix + ".")
        ]
        layer = by_name[max(setters, key=lambda n: rank.get(n, -1))] if setters else None
        where = _where(layer) if layer else "configuration"
        issues.append(
            issue_at(f"`{prefix}`: {message}", where, layer.text if layer else None, path)
        )
    raise ConfigValidationError(
        issues,
        hint="layers merge key by key; the merged table must be complete (see `codex config"
        " explain KEY` for what each layer sets)",
    )


def _where(layer: Layer) -> str:
    if layer.kind == "session_flags":
        return "-c/--config override"
    if layer.kind == "mdm":
        return MDM_CONFIG_SOURCE
    return str(layer.path) if layer.path else layer.name


def _cwd(given: Path | None) -> Path:
    cwd = Path(given).expanduser() if given is not None else Path(os.getcwd())
    cwd = cwd.absolute()
    if not cwd.is_dir():
        raise CodexError(
            f"working directory {cwd} does not exist or is not a directory",
            hint="pass an existing directory to -C/--cd",
        )
    return cwd


def _validate(
    layer: Layer, opts: LoadOptions, warnings: list[str], where: str | None = None
) -> None:
    """One layer alone: types and unknown keys (whole-table rules wait for the merge)."""
    location = where or (str(layer.path) if layer.path else layer.name)
    warnings.extend(
        validate_table(
            "config",
            layer.table,
            where=location,
            text=layer.text,
            unknown="error" if opts.strict else "warn",
            partial=True,
        )
    )
    warnings.extend(feature_warnings(layer.table, where=location, text=layer.text))


def _file_layer(
    name: str, kind: str, path: Path, base: Path, opts: LoadOptions, warnings: list[str]
) -> Layer:
    text = read_text_file(path)
    layer = Layer(name, kind, path, exists=text is not None, text=text)
    if text is not None:
        layer.table = parse_toml_text(text, str(path))
        _validate(layer, opts, warnings)
        resolve_paths(layer.table, base)
    return layer


def _project_layer(
    project: ProjectDir, gate: TrustGate, opts: LoadOptions, warnings: list[str]
) -> Layer:
    path: Path = project.codex_dir / "config.toml"
    layer = Layer(
        f"project:{project.dir}",
        "project",
        path,
        enabled=project.enabled,
        disabled_reason=project.disabled_reason,
    )
    refusal = gate.refusal(project) if project.enabled else None
    if refusal is not None:
        layer.enabled, layer.disabled_reason = False, refusal
        warnings.append(refusal)
    if not layer.enabled:
        # Untrusted content is never parsed into the effective config (its errors are ignored).
        layer.exists = os.path.lexists(path)
        return layer
    # The trust check has just vetted this folder: nothing in it leads out of the project.
    # Read what the fingerprint covered (a link's vetted target), never through a new link.
    text = read_text_file(gate.canon(path), what="project config file", nofollow=True)
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
    _validate(layer, opts, warnings)
    resolve_paths(layer.table, project.codex_dir)
    return layer


def _read_mdm(opts: LoadOptions) -> MdmPayload | None:
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


def _profile_layer(
    flag: str | None, config: dict[str, Any], session: dict[str, Any]
) -> Layer | None:
    """The selected legacy ``[profiles.NAME]`` (``-p``, else `profile` with `-c` on top)."""
    name = flag or session.get("profile", config.get("profile"))
    if name is None:
        return None
    if not isinstance(name, str) or not name:
        raise CodexError("`profile` must be a non-empty string naming a [profiles.NAME] table")
    profiles: dict[str, Any] = {}
    for table in (config, session):
        if isinstance(table.get("profiles"), dict):
            merge_into(profiles, table["profiles"], {}, "")
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none defined"
        raise CodexError(
            f"config profile `{name}` not found",
            hint=f"define [profiles.{name}] in config.toml (known: {known})",
        )
    return Layer(f"profile:{name}", "profile", None, dict(profiles[name]))


def _requirements(
    opts: LoadOptions, sysdir: Path, mdm_payload: MdmPayload | None, managed: Layer, mdm: Layer
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


@dataclass(frozen=True)
class TrustResult:
    """What `codex config trust` recorded."""

    project_root: Path
    key: str
    level: str
    user_config: Path
    record_file: Path
    layers: list[str]
    complete: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "project_root": str(self.project_root),
            "key": self.key,
            "trust_level": self.level,
            "user_config": str(self.user_config),
            "record_file": str(self.record_file),
            "recorded_layers": self.layers,
            "scan_complete": self.complete,
        }


def trust_project(options: LoadOptions | None = None, *, level: str = "trusted") -> TrustResult:
    """Trust (or distrust) the project containing ``options.cwd``, as it is now.

    Writes ``[projects."<root>"] trust_level`` into the user's config.toml (atomically, comments
    kept) and, for ``trusted``, records the fingerprint of every `.codex` folder of the project
    (:mod:`.trust`); from then on only those contents load. Re-running it after reviewing a
    change trusts the new contents.
    """
    if level not in ("trusted", "untrusted"):
        raise CodexError(f"unknown trust level {level!r}", hint="use trusted or untrusted")
    opts = options or LoadOptions()
    base = _base_layers(opts)
    canon = Canonical()
    root = canon(find_project_root(base.cwd, base.markers))
    key = str(root)
    store = TrustStore.load(base.home)
    layers: dict[str, Any] = {}
    complete = True
    if level == "trusted":
        layers, complete = scan_project(root, canon, base.home)
        # The folders from the root down to the directory asked about are always recorded,
        # however large the project.
        for directory in [base.cwd, *base.cwd.parents]:
            codex_dir = directory / ".codex"
            if codex_dir.is_dir() and canon(codex_dir) != canon(base.home):
                try:
                    layers[layer_key(canon(directory))] = fingerprint(codex_dir, root)
                except LayerRefused as refused:
                    raise CodexError(
                        f"cannot trust {codex_dir}: {refused}",
                        hint="fix the folder, then run `codex config trust` again",
                    ) from None
            if canon(directory) == root:
                break
        store.records[key] = ProjectRecord(key, now_iso(), complete, layers)
    else:
        store.records.pop(key, None)
    store.save()
    _set_trust_level(base.user_path, key, level)
    return TrustResult(root, key, level, base.user_path, store.path, sorted(layers), complete)


def _set_trust_level(path: Path, key: str, level: str) -> None:
    """Set ``projects."<key>".trust_level`` in a config.toml, keeping everything else."""
    import tomlkit  # only this writer needs it (start-up cost of every other command)
    from tomlkit.exceptions import TOMLKitError

    text = read_text_file(path) or ""
    try:
        document = tomlkit.parse(text)
        projects = document.get("projects")
        if projects is None:
            projects = tomlkit.table(is_super_table=True)
            document["projects"] = projects
        if not isinstance(projects, dict):
            raise CodexError(f"`projects` in {path} is not a table", location=Location(path))
        entry = projects.get(key)
        if entry is None:
            entry = tomlkit.table()
            projects[key] = entry
        if not isinstance(entry, dict):
            raise CodexError(
                f'`projects."{key}"` in {path} is not a table', location=Location(path)
            )
        entry["trust_level"] = level
        rendered = tomlkit.dumps(document)
    except TOMLKitError as err:
        raise CodexError(
            f"cannot update {path}: {err}", location=Location(path), hint="fix the TOML syntax"
        ) from None
    write_file_atomic(path, rendered)
