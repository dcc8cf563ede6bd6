"""Validate with the pydantic models: only for documents the fast checker found invalid.

Imported lazily by :mod:`.validation` (pydantic and the models cost several times a bare Python
start-up). Returns pydantic's error dictionaries, which carry the messages users read.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, ValidationError

from codex_admin.config.models import ConfigToml
from codex_admin.config.requirements_model import RequirementsToml

__all__ = ["pydantic_errors"]

KeyPath = tuple[str | int, ...]

_MODELS: dict[str, type[BaseModel]] = {"config": ConfigToml, "requirements": RequirementsToml}


def pydantic_errors(
    kind: str, table: dict[str, Any], *, partial: bool
) -> tuple[list[dict[str, Any]], list[KeyPath]]:
    """(errors other than unknown keys, paths of unknown keys) for ``table``."""
    model = _MODELS[kind]
    context = {"partial": partial}
    errors = _errors(model, table, context)
    unknown = [_clean(e["loc"]) for e in errors if e["type"] == "extra_forbidden"]
    real = [e for e in errors if e["type"] != "extra_forbidden"]
    if unknown and not real:
        # A model with an unknown key skips its whole-table rules; run them on the rest.
        cleaned = copy.deepcopy(table)
        for path in unknown:
            node: Any = cleaned
            for part in path[:-1]:
                node = node[part]
            node.pop(path[-1], None)
        real = [e for e in _errors(model, cleaned, context) if e["type"] != "extra_forbidden"]
    return real, unknown


def _errors(model: type[BaseModel], table: dict[str, Any], context: dict[str, Any]) -> list[Any]:
    try:
        model.model_validate(table, context=context)
    except ValidationError as err:
        return list(err.errors(include_url=False))
    return []


def _clean(loc: tuple[Any, ...]) -> KeyPath:
    """Drop the union member names pydantic inserts into locations."""
    return tuple(
        part
        for part in loc
        if isinstance(part, int)
        or not (part in ("GranularPolicy", "str", "int", "bool") or part.endswith("]"))
    )
