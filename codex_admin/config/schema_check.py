"""Check a TOML table against the JSON Schema generated from the models, without pydantic.

Why: importing pydantic and building the models costs several times a bare Python start-up,
and almost every file a command loads is valid. So the loader first asks this small checker
"valid, and which keys are unknown?" against the schemas that `codex config schema` generates
from the models (`config.schema.json`, `requirements.schema.json` beside this module; a test
pins them to the models). Only when the checker finds an invalid value does the loader
validate with pydantic, whose messages it reports. The checker may be stricter than pydantic
(it then only costs time), never looser: an invalid value always reaches pydantic.

Supported keywords are exactly those pydantic emits for our models: ``$ref``/``$defs``,
``anyOf``, ``type``, ``enum``, ``const``, ``properties``, ``additionalProperties``,
``required``, ``items``, ``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum``.
Types are strict, as in the models (TOML is typed: ``"no"`` is not a boolean, ``true`` is not
an integer). Cross-field rules come from :mod:`.checks`; with ``partial`` they are skipped
(one config layer may hold half a table; the merged result is checked in full).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from codex_admin.config.checks import DELEGATED_MODELS, MODEL_CHECKS

__all__ = ["SCHEMA_FILES", "Problem", "check", "known_keys", "schema_for", "schema_problems"]

Path_ = tuple[str | int, ...]

SCHEMA_FILES = {
    "config": Path(__file__).with_name("config.schema.json"),
    "requirements": Path(__file__).with_name("requirements.schema.json"),
}


@dataclass(frozen=True)
class Problem:
    """An unknown key (``unknown``) or an invalid value at ``path``.

    ``rule`` is set when the value breaks a whole-table rule of :mod:`.checks`: it is that
    rule's message (the only problems whose text this checker knows).
    """

    path: Path_
    unknown: bool
    rule: str | None = None


@cache
def schema_for(kind: str) -> dict[str, Any]:
    """The packaged JSON Schema of ``kind`` (``config`` or ``requirements``)."""
    loaded: dict[str, Any] = json.loads(SCHEMA_FILES[kind].read_text(encoding="utf-8"))
    return loaded


def check(kind: str, table: Mapping[str, Any], *, partial: bool = False) -> list[Problem]:
    """Every unknown key and invalid value of ``table`` (empty when it is valid)."""
    root = schema_for(kind)
    out: list[Problem] = []
    _check(root, root, table, (), partial, out)
    return out


def known_keys(kind: str, path: Path_) -> list[str]:
    """The keys the schema accepts in the table at ``path`` (for "did you mean")."""
    root = schema_for(kind)
    nodes = [root]
    for part in path:
        nodes = [child for node in nodes for child in _children(root, node, part)]
    keys: list[str] = []
    for node in nodes:
        for branch in _branches(root, node):
            keys.extend(branch.get("properties", {}))
    return list(dict.fromkeys(keys))


def _deref(root: dict[str, Any], node: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    ref = node.get("$ref")
    if ref is None:
        return node, None
    name = ref.rsplit("/", 1)[-1]
    target: dict[str, Any] = root["$defs"][name]
    return target, name


def _branches(root: dict[str, Any], node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    node, _ = _deref(root, node)
    if "anyOf" in node:
        for branch in node["anyOf"]:
            yield from _branches(root, branch)
    else:
        yield node


def _children(root: dict[str, Any], node: dict[str, Any], part: str | int) -> list[dict[str, Any]]:
    found = []
    for branch in _branches(root, node):
        if isinstance(part, int):
            if isinstance(branch.get("items"), dict):
                found.append(branch["items"])
            continue
        props = branch.get("properties", {})
        if part in props:
            found.append(props[part])
        elif isinstance(branch.get("additionalProperties"), dict):
            found.append(branch["additionalProperties"])
    return found


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _type_ok(name: str, value: Any) -> bool:
    if name == "null":
        return value is None
    if isinstance(value, bool) and name != "boolean":
        return False
    return isinstance(value, _TYPES.get(name, ()))


def _same(a: Any, b: Any) -> bool:
    """Equality that does not confuse ``true`` with ``1`` or ``1`` with ``1.0``."""
    return type(a) is type(b) and a == b


def _check(
    root: dict[str, Any],
    node: dict[str, Any],
    value: Any,
    path: Path_,
    partial: bool,
    out: list[Problem],
) -> None:
    node, name = _deref(root, node)
    if "anyOf" in node:
        # `X | None` is X made nullable (pydantic reports X's own problems, unknown keys
        # included); a real union is valid only when one member accepts the value whole.
        branches = [b for b in node["anyOf"] if value is not None or b.get("type") == "null"]
        if value is not None:
            branches = [b for b in branches if b.get("type") != "null"]
        if len(branches) == 1:
            _check(root, branches[0], value, path, partial, out)
            return
        for branch in branches:
            trial: list[Problem] = []
            _check(root, branch, value, path, partial, trial)
            if not trial:
                return
        out.append(Problem(path, unknown=False))
        return
    if "const" in node and not _same(value, node["const"]):
        out.append(Problem(path, unknown=False))
        return
    if "enum" in node and not any(_same(value, e) for e in node["enum"]):
        out.append(Problem(path, unknown=False))
        return
    kind = node.get("type")
    if kind is not None and not _type_ok(kind, value):
        out.append(Problem(path, unknown=False))
        return
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and not _in_range(node, value):
        out.append(Problem(path, unknown=False))
        return
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        for index, item in enumerate(value):
            _check(root, node["items"], item, (*path, index), partial, out)
    if isinstance(value, dict):
        found: list[Problem] = []
        _check_object(root, node, value, path, partial, found)
        rule = MODEL_CHECKS.get(name or "")
        if name in DELEGATED_MODELS and rule is not None:
            # The model itself judges everything below (unknown keys are errors there), and a
            # layer's table of it is never partial in a way its rule could misjudge.
            message = rule(value)
            if message is not None or found:
                out.append(Problem(path, unknown=False, rule=message))
            return
        invalid = any(not p.unknown for p in found)
        if rule is not None and not partial and not invalid:
            message = rule(value)
            if message is not None:
                found.append(Problem(path, unknown=False, rule=message))
        out.extend(found)


def _check_object(
    root: dict[str, Any],
    node: dict[str, Any],
    value: dict[str, Any],
    path: Path_,
    partial: bool,
    out: list[Problem],
) -> None:
    props: dict[str, Any] = node.get("properties", {})
    extra = node.get("additionalProperties", True)
    for key in node.get("required", ()):
        if key not in value:
            out.append(Problem((*path, key), unknown=False))
    for key, child in value.items():
        if key in props:
            _check(root, props[key], child, (*path, key), partial, out)
        elif isinstance(extra, dict):
            _check(root, extra, child, (*path, key), partial, out)
        elif extra is False:
            out.append(Problem((*path, key), unknown=True))


def _in_range(node: dict[str, Any], value: float) -> bool:
    if "minimum" in node and value < node["minimum"]:
        return False
    if "maximum" in node and value > node["maximum"]:
        return False
    if "exclusiveMinimum" in node and value <= node["exclusiveMinimum"]:
        return False
    return not ("exclusiveMaximum" in node and value >= node["exclusiveMaximum"])


#: The public name: "which problems has this table?" (empty when valid), without pydantic.
schema_problems = check
