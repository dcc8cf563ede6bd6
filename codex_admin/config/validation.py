"""Validate one parsed TOML table and turn every problem into a located, user-facing issue.

Two tiers (see :mod:`.schema_check` for why): the fast schema checker answers for valid tables
and for unknown keys; pydantic is imported only when a value is invalid, for its messages.

Unknown keys carry a "did you mean" from the schema. What they become is the caller's policy
(``unknown``): a warning (config files: Codex preserves keys it does not know, so the key stays
in the table unless ``drop_unknown``) or an error (requirements, and config under
`--strict-config`: a misspelt requirement would silently not apply, so it fails closed).

Error text never quotes the file: a value is echoed only when it is a mistyped word (a choice
that is not one of the allowed ones); otherwise its type is named. A file can be a symlink to a
secret, and errors travel to terminals, CI logs and -- through the agent -- to a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from codex_admin.config.features import (
    canonical_feature,
    feature_suggestion,
    feature_value_problem,
)
from codex_admin.config.schema_check import check, known_keys
from codex_admin.config.spelling import suggest
from codex_admin.config.toml_io import format_key, locate_key
from codex_admin.errors import CodexError, Location, location_json

__all__ = [
    "ConfigValidationError",
    "Issue",
    "feature_warnings",
    "issue_at",
    "validate_table",
    "whole_table_problems",
]

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Issue:
    """One problem in one document."""

    message: str
    location: Location | None

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message

    def to_json(self) -> dict[str, object]:
        return {"message": self.message, **location_json(self.location)}


class ConfigValidationError(CodexError):
    """Several located issues in one document; ``str()`` lists them all."""

    def __init__(self, issues: Sequence[Issue], hint: str | None = None) -> None:
        first = issues[0]
        super().__init__(first.message, location=first.location, hint=hint)
        self.issues = list(issues)

    def __str__(self) -> str:
        text = "\n".join(str(issue) for issue in self.issues)
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


def issue_at(message: str, where: str, text: str | None, key: Sequence[str | int] | None) -> Issue:
    """An issue located at ``key`` in ``text`` (or at the document when it cannot be found)."""
    pos = locate_key(text, list(key)) if text is not None and key else None
    if pos is None:
        return Issue(message, Location(where) if where else None)
    return Issue(message, Location(where, pos[0], pos[1]))


def validate_table(
    kind: Literal["config", "requirements"],
    table: dict[str, Any],
    *,
    where: str,
    text: str | None,
    unknown: Literal["warn", "error"],
    drop_unknown: bool = False,
    partial: bool = False,
) -> list[str]:
    """Validate ``table`` as a ``kind`` document; return warnings, raise located errors.

    ``partial``: the table is one layer of several, so whole-table rules (:mod:`.checks`) wait
    for the merged result. ``drop_unknown`` removes unknown keys from ``table`` in place.
    """
    problems = check(kind, table, partial=partial)
    unknown_paths = [p.path for p in problems if p.unknown]
    issues: list[Issue] = []
    if any(not p.unknown for p in problems):
        # pydantic and the models are imported only for a broken document (start-up cost).
        from codex_admin.config.pydantic_check import pydantic_errors

        errors, unknown_paths = pydantic_errors(kind, table, partial=partial)
        issues = _issues(errors, where, text)
    if unknown == "error":
        issues += [
            issue_at(
                f"unknown {_noun(kind)} field `{format_key(path)}`{_suggestion(kind, path)}",
                where,
                text,
                path,
            )
            for path in unknown_paths
        ]
    if issues:
        raise ConfigValidationError(issues, hint=_hint(kind, unknown == "error" and unknown_paths))
    warnings = [
        f"{issue_at('', where, text, path).location}: unknown key `{format_key(path)}`"
        f"{_suggestion(kind, path)} (ignored by this version)"
        for path in unknown_paths
    ]
    if drop_unknown:
        for path in unknown_paths:
            _remove(table, path)
    return warnings


def whole_table_problems(
    kind: Literal["config", "requirements"], table: dict[str, Any]
) -> list[tuple[KeyPath, str]]:
    """(key path, message) for each whole-table rule the merged ``table`` breaks.

    The layers were validated one by one (``partial``); what is left to find in their merge is
    a table that no layer completes (``mcp_servers.docs`` without ``command`` or ``url``).
    """
    invalid = [p for p in check(kind, table) if not p.unknown]
    if all(p.rule is not None for p in invalid):
        return [(p.path, str(p.rule)) for p in invalid]
    from codex_admin.config.pydantic_check import pydantic_errors  # only when broken

    errors, _ = pydantic_errors(kind, table, partial=False)
    return [
        (
            tuple(part for part in e["loc"] if not _is_union_tag(part)),
            str(e["msg"]).removeprefix("Value error, "),
        )
        for e in errors
    ]


def feature_warnings(table: dict[str, Any], *, where: str, text: str | None) -> list[str]:
    """Check a config layer's `[features]`; a value that is not a boolean is removed from it.

    Config is the user's own file: a bad flag must not stop the CLI, but it must not take
    effect silently either (``hooks = "maybe"`` is neither on nor off), so it warns and is
    ignored. Unknown names warn with the closest known ones and stay (Codex keeps them).
    """
    features = table.get("features")
    if not isinstance(features, dict):
        return []
    warnings = []
    for name in list(features):
        key = ("features", name)
        value = features[name]
        known = canonical_feature(name)
        if known is None:
            warnings.append(
                f"{issue_at('', where, text, key).location}: unknown feature `{name}` in"
                f" [features]{feature_suggestion(name)} (it has no effect)"
            )
            continue
        problem = feature_value_problem(known, value)
        if problem is not None:
            del features[name]
            warnings.append(
                f"{issue_at('', where, text, key).location}: `features.{name}` {problem};"
                " the value is ignored"
            )
    return warnings


def _noun(kind: str) -> str:
    return "requirements" if kind == "requirements" else "configuration"


def _suggestion(kind: str, path: KeyPath) -> str:
    leaf = path[-1]
    if not isinstance(leaf, str):
        return ""
    if kind == "config" and len(path) == 1 and leaf in known_keys("requirements", ()):
        # e.g. `allow_guardian_fail_open` in config.toml: say where it belongs (and that the
        # config cannot set it) instead of a look-alike config key.
        return " (a requirements field: only requirements.toml or MDM can set it)"
    return suggest(leaf, known_keys(kind, path[:-1]))


def _remove(table: dict[str, Any], path: KeyPath) -> None:
    node: Any = table
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)


def _issues(errors: list[dict[str, Any]], where: str, text: str | None) -> list[Issue]:
    """One issue per key; the alternatives of a failed union are joined with "or"."""
    grouped: dict[KeyPath, list[str]] = {}
    got: dict[KeyPath, str] = {}
    for error in errors:
        loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
        message = str(error["msg"]).removeprefix("Value error, ")
        grouped.setdefault(loc, [])
        if message not in grouped[loc]:
            grouped[loc].append(message)
        if error["type"] not in ("value_error", "missing") and "input" in error:
            got.setdefault(loc, _got(error["type"], error["input"]))
    issues = []
    for loc, messages in grouped.items():
        message = " or ".join(messages)
        if loc in got:
            message += f" (got {got[loc]})"
        key = format_key(loc) if loc else "document"
        issues.append(issue_at(f"`{key}`: {message}", where, text, loc))
    return issues


_UNION_MEMBERS = {"GranularPolicy", "str", "int", "bool", "float", "function-after"}


def _is_union_tag(part: Any) -> bool:
    """pydantic inserts union member names (``literal[...]``, ``str``) into error locations."""
    if not isinstance(part, str):
        return False
    return part in _UNION_MEMBERS or (
        part.endswith("]")
        and part.split("[", 1)[0] in ("literal", "list", "dict", "function-after")
    )


def _got(error_type: str, value: Any) -> str:
    """What the file held: a mistyped word is shown, anything else only by its type."""
    if error_type in ("literal_error", "enum") and isinstance(value, str) and len(value) <= 40:
        return repr(value)
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number" if error_type != "literal_error" else repr(value)
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _hint(kind: str, unknown_is_error: object) -> str:
    if unknown_is_error and kind == "requirements":
        return (
            "requirements fail closed: a misspelt key would silently not apply; fix or remove"
            " it (`codex config schema requirements` lists the accepted keys)"
        )
    if unknown_is_error:
        return "remove the unknown keys, or run without --strict-config to only warn"
    return f"see `codex config schema {kind}` for the accepted keys and values"
