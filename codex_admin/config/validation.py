"""Turn pydantic validation into located, user-facing issues.

One helper validates a parsed TOML table against a model. Unknown keys are split from real
errors: they become warnings (and are dropped where the caller asks), or errors under
`--strict-config`. Every issue carries `path:line:col` found by scanning the source text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from codex_admin.config.toml_io import format_key, locate_key
from codex_admin.errors import CodexError, Location

__all__ = ["ConfigValidationError", "Issue", "issue_at", "validate_table"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Issue:
    """One problem in one document."""

    message: str
    location: Location | None

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message

    def to_json(self) -> dict[str, object]:
        loc = self.location
        return {
            "message": self.message,
            "path": loc.path if loc else None,
            "line": loc.line if loc else None,
            "column": loc.column if loc else None,
        }


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
    model: type[M],
    table: dict[str, Any],
    *,
    where: str,
    text: str | None,
    strict: bool,
    drop_unknown: bool,
) -> tuple[M, list[str]]:
    """Validate ``table``; return the model and warnings about unknown keys.

    With ``drop_unknown`` the unknown keys are removed from ``table`` in place so they never take
    effect; otherwise they stay (Codex preserves keys it does not know) and only warn.
    """
    try:
        return model.model_validate(table), []
    except ValidationError as err:
        errors = err.errors()
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    real = [e for e in errors if e["type"] != "extra_forbidden"]
    issues = _issues(real, where, text)
    if strict:
        issues += [
            issue_at(
                f"unknown configuration field `{format_key(tuple(e['loc']))}`",
                where,
                text,
                tuple(e["loc"]),
            )
            for e in unknown
        ]
    if issues:
        raise ConfigValidationError(issues, hint=_hint(strict and bool(unknown)))
    warnings = [
        f"{issue_at('', where, text, tuple(e['loc'])).location}: unknown key "
        f"`{format_key(tuple(e['loc']))}` (ignored by this version)"
        for e in unknown
    ]
    cleaned = _without(table, [tuple(e["loc"]) for e in unknown])
    if drop_unknown:
        table.clear()
        table.update(cleaned)
    return model.model_validate(cleaned), warnings


def _without(table: dict[str, Any], paths: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A deep copy of ``table`` without the given key paths."""
    import copy

    result = copy.deepcopy(table)
    for path in paths:
        node: Any = result
        for part in path[:-1]:
            node = node[part]
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return result


def _issues(errors: list[Any], where: str, text: str | None) -> list[Issue]:
    """One issue per key; the alternatives of a failed union are joined with "or"."""
    grouped: dict[tuple[Any, ...], list[str]] = {}
    got: dict[tuple[Any, ...], str] = {}
    for error in errors:
        loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
        message = str(error["msg"]).removeprefix("Value error, ")
        grouped.setdefault(loc, [])
        if message not in grouped[loc]:
            grouped[loc].append(message)
        if error["type"] not in ("value_error", "missing") and "input" in error:
            got.setdefault(loc, _short(error["input"]))
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


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _hint(unknown: bool) -> str:
    if unknown:
        return "remove the unknown keys, or run without --strict-config to only warn"
    return "see `codex config schema` for the accepted keys and values"
