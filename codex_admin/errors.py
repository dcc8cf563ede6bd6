"""The one user-facing error type.

Every package raises :class:`CodexError` (or a subclass) for problems a user can fix: bad input,
missing files, policy violations. The CLI prints ``str(err)`` and exits 1; anything else reaching
the user is a bug. This module is a leaf: it imports nothing of ours, so every package may use it
without breaking the dependency DAG in ARCHITECTURE.md.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CodexError", "Location", "format_location", "location_json"]


class Location:
    """Where in a file a problem is: ``path:line:col`` (line and column are 1-based)."""

    __slots__ = ("column", "line", "path")

    def __init__(self, path: str | Path, line: int | None = None, column: int | None = None):
        self.path = str(path)
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return format_location(self.path, self.line, self.column)

    def __repr__(self) -> str:
        return f"Location({self.path!r}, {self.line!r}, {self.column!r})"

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "column": self.column}


def location_json(location: Location | None) -> dict[str, object]:
    """``{"path", "line", "column"}`` of ``location``, all null when there is none: the shape
    every JSON error and problem report in this project uses."""
    if location is None:
        return {"path": None, "line": None, "column": None}
    return location.to_json()


def format_location(path: str | Path, line: int | None = None, column: int | None = None) -> str:
    """Render ``path[:line[:col]]`` the way compilers and editors expect."""
    text = str(path)
    if line is not None:
        text += f":{line}"
        if column is not None:
            text += f":{column}"
    return text


class CodexError(Exception):
    """A problem the user can fix. ``message`` says what; ``location`` where; ``hint`` how.

    ``str(err)`` is the full user-facing text: ``path:line:col: message`` followed by the hint on
    its own line when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_json(self) -> dict[str, object]:
        """Machine-readable form used by ``--json`` outputs."""
        return {"message": self.message, **location_json(self.location), "hint": self.hint}
