"""Reading the guardian's own TOML files (rule table, case files) with located errors.

Both formats are arrays of tables (``[[rule]]``, ``[[case]]``); :class:`TomlDoc` finds the
``path:line:col`` of a key inside the N-th entry of such an array, which the config package's
``locate_key`` (deliberately index-blind) cannot. Validation is hand-written rather than
pydantic: the formats are small, and ``codex guardian review --offline`` (a hook or CI step)
should not pay for model validation of a file it reads on every call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex_admin.config import parse_toml_text, read_text_file
from codex_admin.errors import CodexError, Location

__all__ = ["Table", "TomlDoc"]

_HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_.\-]+)\s*\]\]")
_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]")


@dataclass
class TomlDoc:
    where: str
    text: str
    data: dict[str, Any]

    @classmethod
    def read(cls, path: Path, *, what: str) -> TomlDoc:
        text = read_text_file(path, what=what)
        if text is None:
            raise CodexError(f"{what} {path} does not exist", location=Location(path))
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, where: str) -> TomlDoc:
        return cls(where, text, parse_toml_text(text, where))

    def locate(self, array: str | None, index: int | None, key: str | None) -> Location:
        """The line of ``key`` in the ``index``-th ``[[array]]`` (or at top level)."""
        lines = self.text.splitlines()
        start, end = 0, len(lines)
        if array is not None and index is not None:
            seen = -1
            for number, line in enumerate(lines):
                match = _HEADER.match(line)
                if match and match.group(1) == array:
                    seen += 1
                    if seen == index:
                        start = number
                    elif seen == index + 1:
                        end = number
                        break
            if seen < index:
                return Location(self.where)
        if key is None:
            return Location(self.where, start + 1, 1)
        leaf = key.split(".")[-1]
        pattern = re.compile(r"^\s*(?:[A-Za-z0-9_\-]+\.)*" + re.escape(leaf) + r"\s*=")
        for number in range(start, end):
            line = lines[number]
            if pattern.match(line) or (
                (table := _TABLE.match(line)) and table.group(1).endswith(leaf)
            ):
                return Location(self.where, number + 1, len(line) - len(line.lstrip()) + 1)
        return Location(self.where, start + 1, 1) if array is not None else Location(self.where)


class Table:
    """Typed reads from one TOML table; every error is located in the document."""

    def __init__(
        self, doc: TomlDoc, data: Any, *, array: str | None, index: int | None, prefix: str = ""
    ) -> None:
        self.doc = doc
        self.array = array
        self.index = index
        self.prefix = prefix
        if not isinstance(data, Mapping):
            raise self.fail(None, "must be a table")
        self.data: Mapping[str, Any] = data

    def fail(self, key: str | None, message: str, hint: str | None = None) -> CodexError:
        name = f"{self.prefix}{key}" if key else (self.prefix.rstrip(".") or "document")
        where = f"{self.array}[{self.index}]." if self.array is not None else ""
        return CodexError(
            f"`{where}{name}` {message}",
            location=self.doc.locate(self.array, self.index, name if key else None),
            hint=hint,
        )

    def only(self, allowed: Sequence[str]) -> None:
        for key in self.data:
            if key not in allowed:
                raise self.fail(
                    str(key), "is not a known key", f"allowed here: {', '.join(allowed)}"
                )

    def required(self, key: str, *, choices: Sequence[str] = ()) -> str:
        value = self.text(key, required=True, choices=choices)
        assert value is not None
        return value

    def text(self, key: str, *, required: bool = False, choices: Sequence[str] = ()) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is required")
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {type(value).__name__}")
        if choices and value not in choices:
            raise self.fail(key, f"is {value!r}, not one of {', '.join(choices)}")
        return value

    def strings(self, key: str) -> list[str] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return list(value)

    def integer(self, key: str, *, minimum: int = 0) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"must be an integer >= {minimum}")
        return value

    def flag(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value
