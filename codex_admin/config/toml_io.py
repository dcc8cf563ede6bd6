"""Reading TOML with errors that point at `path:line:col`.

`tomllib` reports syntax errors as text ("... (at line 3, column 7)"); we turn that into a
:class:`~codex_admin.errors.Location`. Semantic errors found later (wrong type, bad value) are
located with :func:`locate_key`, a small scanner that finds the line where a dotted key is assigned.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codex_admin.config.files import read_text_file
from codex_admin.errors import CodexError, Location

__all__ = [
    "format_inline",
    "format_key",
    "locate_key",
    "parse_key_path",
    "parse_toml_text",
    "read_toml_file",
]

_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_EOF = re.compile(r"\s*\(at end of document\)\s*$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_toml_text(text: str, where: str) -> dict[str, Any]:
    """Parse TOML; syntax errors become located :class:`CodexError` s."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        match = _TOML_POS.search(message)
        if match:
            loc = Location(where, int(match.group(1)), int(match.group(2)))
            message = message[: match.start()]
        else:
            lines = text.count("\n") + 1
            loc = Location(where, lines, None) if _TOML_EOF.search(message) else Location(where)
            message = _TOML_EOF.sub("", message)
        raise CodexError(
            f"invalid TOML: {message}", location=loc, hint="fix the TOML syntax at that position"
        ) from None


def read_toml_file(path: Path, *, what: str = "config file") -> dict[str, Any] | None:
    """Read and parse a TOML file; None when it does not exist."""
    text = read_text_file(path, what=what)
    if text is None:
        return None
    return parse_toml_text(text, str(path))


def format_key(parts: Sequence[str | int]) -> str:
    """Render a key path TOML-style: ``projects."/home/me".trust_level``, array indexes bare."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, int) or _BARE_KEY.match(part):
            out.append(str(part))
        else:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'"{escaped}"')
    return ".".join(out)


def format_inline(value: Any, *, unset: str = "unset") -> str:
    """A value as an inline TOML value, for messages and human output (``unset`` for None,
    which TOML cannot spell)."""
    if value is None:
        return unset
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(format_inline(v, unset=unset) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(
            f"{format_key([str(k)])} = {format_inline(v, unset=unset)}" for k, v in value.items()
        )
        return "{" + inner + "}" if inner else "{}"
    return json.dumps(str(value))


def parse_key_path(key: str) -> list[str]:
    """Split a dotted key honouring TOML quoting (``projects."/a.b".trust_level``)."""
    parts: list[str] = []
    i, n = 0, len(key)
    while i < n:
        while i < n and key[i] in " \t":
            i += 1
        if i < n and key[i] in "\"'":
            quote = key[i]
            j = i + 1
            buf = []
            while j < n and key[j] != quote:
                if quote == '"' and key[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(key[j])
                j += 1
            if j >= n:
                raise CodexError(f"unterminated quote in key: {key}")
            parts.append("".join(buf))
            i = j + 1
        else:
            j = i
            while j < n and key[j] != ".":
                j += 1
            part = key[i:j].strip()
            if not part:
                raise CodexError(f"empty segment in key: {key}")
            parts.append(part)
            i = j
        while i < n and key[i] in " \t":
            i += 1
        if i < n:
            if key[i] != ".":
                raise CodexError(f"invalid key: {key}")
            i += 1
            if i >= n:
                raise CodexError(f"empty segment in key: {key}")
    if not parts:
        raise CodexError("empty key")
    return parts


_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'))*)\s*="""
)


def locate_key(text: str, path: list[str | int] | tuple[str | int, ...]) -> tuple[int, int] | None:
    """Best-effort (line, column) of the assignment or table header that defines ``path``.

    Array indexes in ``path`` are skipped: the location is that of the array's key. Returns the
    deepest prefix of ``path`` that can be found, or None.
    """
    want = [p for p in path if isinstance(p, str)]
    if not want:
        return None
    best: tuple[int, tuple[int, int]] | None = None
    table: list[str] = []
    in_multiline: str | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if in_multiline in line:
                in_multiline = None
            continue
        header = _HEADER.match(line)
        if header and not _ASSIGN.match(line):
            try:
                table = parse_key_path(header.group(2))
            except CodexError:
                table = []
            depth = _common_prefix(table, want)
            if depth == len(table) and depth and (best is None or depth > best[0]):
                best = (depth, (lineno, line.index("[") + 1))
            continue
        assign = _ASSIGN.match(line)
        if assign:
            try:
                key = table + parse_key_path(assign.group(1))
            except CodexError:
                continue
            depth = _common_prefix(key, want)
            covers = depth == len(key) or depth == len(want)
            if covers and depth and (best is None or depth > best[0]):
                col = len(line) - len(line.lstrip()) + 1
                best = (depth, (lineno, col))
            rest = line[assign.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) == 1:
                    in_multiline = quote
    return best[1] if best else None


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
