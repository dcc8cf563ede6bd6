"""Rendering helpers shared by the commands: JSON on stdout, warnings on stderr, TOML values.

Import-light (no typer): the typer-free fast paths render with it too.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from codex_admin.config import format_inline


def print_json(value: Any, *, pretty: bool = True) -> None:
    """Print exactly one JSON document on stdout (stable key order as given)."""
    if pretty:
        text = json.dumps(value, indent=2, ensure_ascii=False)
    else:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    sys.stdout.write(text + "\n")


def print_warnings(warnings: Iterable[str]) -> None:
    """Warnings go to stderr so that stdout stays machine-readable."""
    for warning in warnings:
        sys.stderr.write(f"warning: {warning}\n")


def toml_value(value: Any) -> str:
    """Render a value as an inline TOML value (for human-readable output)."""
    return format_inline(value, unset="(unset)")
