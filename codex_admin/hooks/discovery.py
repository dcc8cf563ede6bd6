"""Discovery (spec §3.2): every hook in force for one working directory, with its trust state.

Sources, in configured (= reporting) order:

1. managed hooks from requirements (`[hooks]` in `requirements.toml`, MDM
   `requirements_toml_base64`, a remote bundle; groups of all sources concatenated);
2. next to each active config layer, low to high: the system dir, `CODEX_HOME`, every trusted
   project `.codex` folder from the project root down to cwd, `managed_config.toml`, MDM
   `config_toml_base64`, `-c` overrides -- each as `hooks.json` in the layer's folder and/or a
   `[hooks]` table in its TOML (both present: both load, with a warning).

Higher layers do not replace lower ones: every matching hook runs. System, managed-config, MDM
and requirements hooks are the admin's (managed): always trusted, cannot be disabled. Hooks from
the user, projects and `-c` run only once trusted (see :mod:`.trust`).

Switches, strongest first:

* requirements `features.hooks = false` -- nothing runs, managed hooks included (no file read);
* `allow_managed_hooks_only = true` in requirements -- only managed sources are read;
* `features.hooks = false` in config -- user, project and `-c` hooks are off; managed hooks still
  run (a user cannot switch off the admin's hooks).

Errors: a malformed managed source fails closed (:class:`CodexError`); a malformed user or project
source is rejected and reported as a :class:`HookProblem` (the rest still loads). An untrusted
project's hooks are not read at all; when it has a `hooks.json` that is reported too. Every hook
that will not run because it is new, modified or has an invalid matcher is a problem as well --
nothing is skipped silently.

Not implemented: Codex's rule that a linked git worktree takes its hooks from the main
checkout's `.codex`; here a worktree's own (trusted) `.codex` folders are used, like any project.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from codex_admin.config import ConfigResult, Layer, locate_key
from codex_admin.errors import CodexError, Location
from codex_admin.hooks.files import (
    Locator,
    ParsedHandler,
    parse_event_table,
    parse_hooks_json,
    read_config_file,
)
from codex_admin.hooks.matcher import Matcher, MatcherKind
from codex_admin.hooks.model import (
    EVENT_LABELS,
    MATCHER_EVENTS,
    HookDefinition,
    HookProblem,
    HookSet,
    ProblemKind,
    SourceKind,
    TrustStatus,
)
from codex_admin.hooks.sources import HOOKS_FILE, path_exists
from codex_admin.hooks.trust import (
    HookState,
    hook_hash,
    hook_states,
    referenced_files,
    trust_status,
)

__all__ = ["discover_hooks"]

_Loader = Callable[[], tuple[list[ParsedHandler], list[str]]]

_LAYER_KINDS = {
    "system": SourceKind.SYSTEM,
    "user": SourceKind.USER,
    "project": SourceKind.PROJECT,
    "managed_config": SourceKind.MANAGED_CONFIG,
    "mdm": SourceKind.MDM,
    "session_flags": SourceKind.SESSION_FLAGS,
}
_SYNTHETIC = {
    SourceKind.MDM: "<mdm:com.openai.codex:config_toml_base64>/config.toml",
    SourceKind.SESSION_FLAGS: "<session-flags>/config.toml",
}


def discover_hooks(config: ConfigResult) -> HookSet:
    """Every hook in force for ``config``'s working directory. Raises for bad managed hooks."""
    reqs = config.requirements
    pins = reqs.value("features") or {}
    if pins.get("hooks") is False:
        reason = (
            "hooks are turned off by requirements (`features.hooks = false`, set by"
            f" {reqs.source('features')})"
        )
        return HookSet(
            (),
            (),
            (),
            config.cwd,
            config.project_root,
            config.codex_home,
            enabled=False,
            disabled_reason=reason,
        )
    managed_only = reqs.value("allow_managed_hooks_only") is True
    user_on = (config.resolved.get("features") or {}).get("hooks", True) is not False
    user = next((layer for layer in config.layers if layer.kind == "user"), None)
    builder = _Builder(config, hook_states(user.table if user else {}))

    managed = reqs.get("hooks")
    if managed is not None and isinstance(managed.value, dict):
        builder.add_requirements(managed.value, managed.source)
    for layer in config.layers:
        kind = _LAYER_KINDS.get(layer.kind)
        if kind is None:
            continue
        if not kind.managed and (managed_only or not user_on):
            if layer.enabled and _has_hooks(layer, _folder(config, layer, kind)):
                builder.ignored(layer, kind, reqs.source("allow_managed_hooks_only"), managed_only)
            continue
        if not layer.enabled:
            folder = _folder(config, layer, kind)
            if kind is SourceKind.PROJECT and folder and path_exists(folder / HOOKS_FILE):
                builder.problems.append(
                    HookProblem(
                        ProblemKind.UNTRUSTED_PROJECT,
                        f"project hooks in {folder / HOOKS_FILE} are not loaded: the project is"
                        " not trusted",
                        Location(folder / HOOKS_FILE),
                        hint=layer.disabled_reason,
                    )
                )
            continue
        builder.add_layer(layer, kind)
    return HookSet(
        tuple(builder.hooks),
        tuple(builder.problems),
        tuple(builder.warnings),
        config.cwd,
        config.project_root,
        config.codex_home,
        managed_only=managed_only,
    )


class _Builder:
    def __init__(self, config: ConfigResult, states: dict[str, HookState]) -> None:
        self.config = config
        self.states = states
        self.hooks: list[HookDefinition] = []
        self.problems: list[HookProblem] = []
        self.warnings: list[str] = []

    def add_requirements(self, table: dict[str, Any], source: str) -> None:
        managed_dir = table.get("managed_dir")
        source_path = (
            managed_dir
            if isinstance(managed_dir, str) and Path(managed_dir).is_absolute()
            else source
        )
        handlers, warnings = parse_event_table(
            table,
            prefix=("hooks",),
            locate=lambda _key: Location(source),
            strict_events=True,
            skip_keys=("managed_dir", "windows_managed_dir"),
        )
        self.warnings += warnings
        self._define_all(handlers, SourceKind.REQUIREMENTS, source_path, None)

    def add_layer(self, layer: Layer, kind: SourceKind) -> None:
        folder = _folder(self.config, layer, kind)
        loaded: list[tuple[str, list[ParsedHandler]]] = []
        if folder is not None:
            path = folder / HOOKS_FILE
            parsed = self._guard(kind, lambda: _load_json(folder, path))
            if parsed:
                loaded.append((str(path), parsed))
        table = layer.table.get("hooks")
        if table is not None:
            toml_path = (
                str(layer.path) if layer.path and kind not in _SYNTHETIC else _SYNTHETIC[kind]
            )
            skip: tuple[str, ...] = ()
            if isinstance(table, dict) and "state" in table:
                skip = ("state",)
                if kind is not SourceKind.USER:
                    self.warnings.append(
                        f"{toml_path}: `hooks.state` ignored: hook trust is read only from"
                        f" {self.config.codex_home / 'config.toml'}"
                    )
            locate = _toml_locator(layer.text, toml_path)
            parsed = self._guard(
                kind,
                lambda: parse_event_table(table, prefix=("hooks",), locate=locate, skip_keys=skip),
            )
            if parsed:
                loaded.append((toml_path, parsed))
        if len(loaded) == 2:
            self.warnings.append(
                f"loading hooks from both {loaded[0][0]} and {loaded[1][0]}; prefer a single"
                " representation for this layer"
            )
        for source_path, handlers in loaded:
            self._define_all(handlers, kind, source_path, folder)

    def _guard(self, kind: SourceKind, load: _Loader) -> list[ParsedHandler]:
        """Managed sources fail closed; a bad user/project source is rejected and reported."""
        try:
            result, warnings = load()
        except CodexError as err:
            if kind.managed:
                raise
            self.problems.append(
                HookProblem(
                    ProblemKind.INVALID_FILE,
                    f"hooks rejected: {err}",
                    err.location,
                    hint=err.hint or "fix the file; its hooks do not run until then",
                )
            )
            return []
        self.warnings += warnings
        return result

    def ignored(
        self, layer: Layer, kind: SourceKind, source: str | None, managed_only: bool
    ) -> None:
        where = _folder(self.config, layer, kind) or layer.path
        reason = (
            f"`allow_managed_hooks_only = true` (set by {source}) allows only managed hooks"
            if managed_only
            else "`features.hooks = false` in your configuration turns off user and project"
            " hooks (managed hooks still run)"
        )
        self.problems.append(
            HookProblem(
                ProblemKind.IGNORED_SOURCE,
                f"{kind.value} hooks are ignored: {reason}",
                Location(where) if where else None,
            )
        )

    def _define_all(
        self,
        handlers: Sequence[ParsedHandler],
        kind: SourceKind,
        source_path: str,
        folder: Path | None,
    ) -> None:
        config = self.config
        roots = [config.project_root, config.codex_home] + ([folder] if folder else [])
        for parsed in handlers:
            managed = kind.managed
            matcher = Matcher.compile(parsed.matcher, used=parsed.event in MATCHER_EVENTS)
            key = (
                f"{source_path}:{EVENT_LABELS[parsed.event]}:"
                f"{parsed.group_index}:{parsed.handler_index}"
            )
            files = (
                {}
                if managed
                else referenced_files(
                    parsed.command, cwd=config.cwd, project_dir=config.project_root, roots=roots
                )
            )
            digest = hook_hash(
                event=parsed.event.value,
                matcher=parsed.matcher,
                command=parsed.command,
                timeout=parsed.timeout,
                is_async=parsed.is_async,
                status_message=parsed.status_message,
                source_path=source_path,
                files=files,
            )
            state = self.states.get(key)
            hook = HookDefinition(
                key=key,
                id=hashlib.sha256(key.encode("utf-8")).hexdigest()[:10],
                event=parsed.event,
                matcher=matcher,
                command=parsed.command,
                timeout=parsed.timeout,
                is_async=parsed.is_async,
                status_message=parsed.status_message,
                source=kind,
                source_path=source_path,
                group_index=parsed.group_index,
                handler_index=parsed.handler_index,
                order=len(self.hooks),
                hash=digest,
                trust=trust_status(managed, digest, state),
                enabled=managed or state is None or state.enabled is not False,
            )
            self.hooks.append(hook)
            self._report(hook)

    def _report(self, hook: HookDefinition) -> None:
        location = Location(hook.source_path) if not hook.source_path.startswith("<") else None
        if hook.matcher.kind is MatcherKind.INVALID:
            self.problems.append(
                HookProblem(
                    ProblemKind.INVALID_MATCHER,
                    f"hook {hook.id} ({hook.describe()}) never runs: invalid matcher regex"
                    f" {hook.matcher.pattern!r}: {hook.matcher.error}",
                    location,
                    hook.id,
                    "fix the regex, or use exact names separated by `|`",
                )
            )
        if not hook.enabled:
            return
        if hook.trust is TrustStatus.UNTRUSTED:
            message = f"hook {hook.id} ({hook.describe()}) is not trusted yet, so it does not run"
            kind = ProblemKind.UNTRUSTED
        elif hook.trust is TrustStatus.MODIFIED:
            message = (
                f"hook {hook.id} ({hook.describe()}) changed since you trusted it, so it does"
                " not run"
            )
            kind = ProblemKind.MODIFIED
        else:
            return
        self.problems.append(
            HookProblem(
                kind,
                message,
                location,
                hook.id,
                f"review it (`codex hooks list`), then run `codex hooks trust {hook.id}`",
            )
        )


def _folder(config: ConfigResult, layer: Layer, kind: SourceKind) -> Path | None:
    """The folder whose `hooks.json` belongs to ``layer`` (managed_config shares the system's)."""
    if kind is SourceKind.SYSTEM:
        return config.system_dir
    if kind is SourceKind.USER:
        return config.codex_home
    if kind is SourceKind.PROJECT and layer.path is not None:
        return layer.path.parent
    return None


def _load_json(folder: Path, path: Path) -> tuple[list[ParsedHandler], list[str]]:
    text = read_config_file(folder, HOOKS_FILE)
    if text is None:
        return [], []
    return parse_hooks_json(text, str(path))


def _toml_locator(text: str | None, where: str) -> Locator:
    def locate(key: Sequence[str | int]) -> Location:
        pos = locate_key(text, list(key)) if text else None
        return Location(where, pos[0], pos[1]) if pos else Location(where)

    return locate


def _has_hooks(layer: Layer, folder: Path | None) -> bool:
    table = layer.table.get("hooks")
    if isinstance(table, dict) and any(key != "state" for key in table):
        return True
    return folder is not None and path_exists(folder / HOOKS_FILE)
