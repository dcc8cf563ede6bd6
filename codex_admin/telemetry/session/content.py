"""Content rules: what an exported attribute may hold, and how values are spelled.

Every exported string passes through the session's
:class:`~codex_admin.telemetry.redaction.Redactor` (:func:`clean`); *content* (a prompt, tool
arguments and output, a command, a reviewer's rationale, a hook's message) is redacted and cut
once by :meth:`Redactor.content` and marked :class:`Redacted`, so it is not redacted twice.
Codex's spellings: booleans such as ``success`` as "true"/"false", timestamps in UTC with
milliseconds, argv joined as a shell would quote it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum

from codex_admin.telemetry.model import AttributeValue
from codex_admin.telemetry.redaction import Redactor

__all__ = ["Redacted", "clean", "flag", "joined", "line_count", "shell_join", "timestamp"]


class Redacted(str):
    """A content string the redactor has processed (and cut), so :func:`clean` keeps it as is."""

    __slots__ = ()


def timestamp() -> str:
    """Now, as Codex stamps ``event.timestamp`` (UTC, milliseconds, ``Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def flag(value: bool) -> str:
    """Codex exports booleans such as ``success`` as the strings "true"/"false"."""
    return "true" if value else "false"


def line_count(text: str) -> int:
    """Lines of a tool's output (``output_line_count``); empty output has none."""
    return text.count("\n") + 1 if text else 0


def clean(attributes: Mapping[str, object], redact: Redactor) -> dict[str, AttributeValue]:
    """``attributes`` as exported: unset (None) dropped, enums as their value, strings redacted
    (content marked :class:`Redacted` is kept as it is), other values redacted as text."""
    out: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, StrEnum):
            out[key] = value.value
        elif type(value) is Redacted:
            out[key] = str(value)  # content: redacted (and cut) once already
        elif isinstance(value, str):
            out[key] = redact(value)
        elif isinstance(value, bool | int | float):
            out[key] = value
        else:
            out[key] = redact(str(value))
    return out


def joined(value: object) -> str:
    """A list-valued field (an allow-list) as one comma-separated string; unset is empty."""
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


_SAFE_ARG = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-")


def _shell_quote(arg: str) -> str:
    if arg and all(ch in _SAFE_ARG for ch in arg):
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def shell_join(argv: Sequence[str]) -> str:
    """``argv`` as one command line, each word quoted as a POSIX shell needs."""
    return " ".join(_shell_quote(a) for a in argv)
