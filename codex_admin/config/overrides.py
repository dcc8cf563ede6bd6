"""`-c key=value` overrides, parsed exactly as Codex does.

Split on the first `=`; trim both sides; parse the value as a TOML value and, if that fails, use
the raw text with surrounding `"`/`'` stripped. Dotted keys build nested tables (no quoting).
Overrides are applied in order onto one table, which becomes the `session_flags` layer.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from typing import Any

from codex_admin.errors import CodexError

__all__ = ["apply_override", "parse_override", "parse_overrides"]


def parse_override(arg: str) -> tuple[list[str], Any]:
    """Return (key path, value) for one `-c` argument."""
    if "=" not in arg:
        raise CodexError(
            f"Invalid override (missing '='): {arg}", hint="use -c key=value, e.g. -c model=o3"
        )
    key, raw = arg.split("=", 1)
    key, raw = key.strip(), raw.strip()
    if not key:
        raise CodexError(f"Empty key in override: {arg}", hint="use -c key=value")
    parts = key.split(".")
    if any(not p.strip() for p in parts):
        raise CodexError(f"Empty key segment in override: {arg}", hint="use -c table.key=value")
    return [p.strip() for p in parts], parse_value(raw)


def parse_value(raw: str) -> Any:
    """TOML value, else the raw string with surrounding quotes stripped."""
    try:
        return tomllib.loads(f"__v__ = {raw}")["__v__"]
    except tomllib.TOMLDecodeError:
        return raw.strip("\"'")


def apply_override(table: dict[str, Any], parts: list[str], value: Any) -> None:
    """Insert ``value`` at ``parts``; a non-table intermediate is replaced by a table."""
    node = table
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def parse_overrides(args: Iterable[str]) -> dict[str, Any]:
    """All overrides applied in order to one table (later wins)."""
    table: dict[str, Any] = {}
    for arg in args:
        parts, value = parse_override(arg)
        apply_override(table, parts, value)
    return table
