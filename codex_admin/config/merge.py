"""Deep merge of config layers, keeping the origin of every effective leaf.

Tables recurse key by key; everything else (scalars, arrays, a type change) replaces wholesale.
An empty overlay table merges nothing. Origins map a TOML-style dotted path (arrays expanded as
`key.0`, `key.1`, ...) to the name of the highest layer that set it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from codex_admin.config.toml_io import format_key

__all__ = ["flatten_leaves", "get_path", "get_value", "has_path", "merge_into"]


def merge_into(
    base: dict[str, Any],
    overlay: dict[str, Any],
    origins: dict[str, str],
    layer: str,
    _prefix: tuple[str | int, ...] = (),
) -> None:
    """Merge ``overlay`` into ``base`` in place, recording ``layer`` as the origin of its leaves."""
    for key, value in overlay.items():
        path = (*_prefix, key)
        current = base.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merge_into(current, value, origins, layer, path)
            continue
        if isinstance(value, dict) and not value:
            if key not in base:
                base[key] = {}
            continue
        _forget(origins, path)
        base[key] = copy.deepcopy(value)
        for leaf, _ in flatten_leaves(value, path):
            origins[format_key(leaf)] = layer


def _forget(origins: dict[str, str], path: tuple[str | int, ...]) -> None:
    """Drop origins at or under ``path`` (the subtree is being replaced)."""
    key = format_key(path)
    prefix = key + "."
    for existing in [k for k in origins if k == key or k.startswith(prefix)]:
        del origins[existing]


def flatten_leaves(
    value: Any, prefix: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Yield (path, leaf) pairs; arrays expand by index; empty containers are leaves."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from flatten_leaves(child, (*prefix, key))
    elif isinstance(value, list) and value:
        for index, child in enumerate(value):
            yield from flatten_leaves(child, (*prefix, index))
    else:
        yield prefix, value


_MISSING = object()


def get_path(table: dict[str, Any], parts: list[str]) -> Any:
    """Value at ``parts`` or the module-private missing sentinel (see :func:`has_path`)."""
    node: Any = table
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def has_path(table: dict[str, Any], parts: list[str]) -> bool:
    return get_path(table, parts) is not _MISSING


def get_value(table: dict[str, Any], key: str) -> Any:
    """Value at a TOML-style dotted key (as used in origins), or None when absent."""
    from codex_admin.config.toml_io import parse_key_path

    value = get_path(table, parse_key_path(key))
    return None if value is _MISSING else value
