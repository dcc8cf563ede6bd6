"""Which environment variables a sandboxed command sees (`shell_environment_policy`).

The algorithm follows Codex (spec config §6): start from ``inherit`` (``all``, ``core`` or
``none``), drop names matching the default excludes ``*KEY*``, ``*SECRET*``, ``*TOKEN*``, drop
``exclude`` globs, add ``set``, then keep only ``include_only`` globs when that list is non-empty.
Globs are case-insensitive.

One deliberate difference: Codex defaults ``ignore_default_excludes`` to ``true`` (so API keys in
the developer's shell reach every command the agent runs). We default it to ``false``: secrets
stay out unless an admin or user opts in with ``ignore_default_excludes = true``. Independently of
the policy, credentials that belong to codex itself (:data:`OWN_SECRETS`) are never inherited.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from codex_admin.errors import CodexError

__all__ = [
    "CORE_VARIABLES",
    "DEFAULT_EXCLUDES",
    "OWN_SECRETS",
    "EnvPolicy",
    "build_child_env",
]

Inherit = Literal["all", "core", "none"]

#: What ``inherit = "core"`` keeps (the same list as Codex).
CORE_VARIABLES: tuple[str, ...] = (
    "HOME",
    "LOGNAME",
    "PATH",
    "SHELL",
    "USER",
    "USERNAME",
    "TMPDIR",
    "TEMP",
    "TMP",
)

#: Removed unless ``ignore_default_excludes = true``.
DEFAULT_EXCLUDES: tuple[str, ...] = ("*KEY*", "*SECRET*", "*TOKEN*")

#: Our own credentials: never inherited by a child, whatever the policy says.
OWN_SECRETS: frozenset[str] = frozenset(
    {
        "CODEX_API_KEY",
        "OPENAI_API_KEY",
        "CODEX_ACCESS_TOKEN",
        "CODEX_REFRESH_TOKEN",
        "CODEX_PROXY_CA_KEY",
    }
)


@dataclass(frozen=True)
class EnvPolicy:
    """A parsed ``[shell_environment_policy]`` table."""

    inherit: Inherit = "all"
    ignore_default_excludes: bool = False
    exclude: tuple[str, ...] = ()
    include_only: tuple[str, ...] = ()
    set: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def from_table(cls, table: Mapping[str, Any] | None, *, where: str = "") -> EnvPolicy:
        """Build from the TOML table; ``where`` names the key for error messages."""
        if table is None:
            return cls()
        prefix = where or "shell_environment_policy"
        if not isinstance(table, Mapping):
            raise CodexError(f"`{prefix}` must be a table", hint='e.g. inherit = "core"')
        inherit = table.get("inherit", "all")
        if inherit not in ("all", "core", "none"):
            raise CodexError(f'`{prefix}.inherit` must be "all", "core" or "none", not {inherit!r}')
        ignore = table.get("ignore_default_excludes", False)
        if not isinstance(ignore, bool):
            raise CodexError(f"`{prefix}.ignore_default_excludes` must be true or false")
        sets = table.get("set", {})
        if not isinstance(sets, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in sets.items()
        ):
            raise CodexError(f"`{prefix}.set` must be a table of string values")
        return cls(
            inherit=inherit,
            ignore_default_excludes=ignore,
            exclude=_globs(table.get("exclude", []), f"{prefix}.exclude"),
            include_only=_globs(table.get("include_only", []), f"{prefix}.include_only"),
            set=tuple(sorted(sets.items())),
        )


def _globs(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CodexError(f"`{key}` must be an array of glob strings", hint='e.g. ["AWS_*"]')
    return tuple(value)


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern.upper()) for pattern in patterns)


def build_child_env(policy: EnvPolicy, parent: Mapping[str, str]) -> dict[str, str]:
    """Apply ``policy`` to ``parent`` (usually ``os.environ``) and return the child's env."""
    if policy.inherit == "all":
        env = dict(parent)
    elif policy.inherit == "core":
        env = {k: v for k, v in parent.items() if k in CORE_VARIABLES}
    else:
        env = {}
    env = {k: v for k, v in env.items() if k.upper() not in OWN_SECRETS}
    if not policy.ignore_default_excludes:
        env = {k: v for k, v in env.items() if not _matches(k, DEFAULT_EXCLUDES)}
    if policy.exclude:
        env = {k: v for k, v in env.items() if not _matches(k, policy.exclude)}
    env.update(dict(policy.set))
    if policy.include_only:
        env = {k: v for k, v in env.items() if _matches(k, policy.include_only)}
    return env
