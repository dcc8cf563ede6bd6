"""A fast reader for generated rules files: one literal builtin call per line, no Starlark.

Generated policies (an export of approved prefixes, a fleet-wide deny list) are flat lists of
calls like ``prefix_rule(pattern = ["git", "push"], decision = "prompt", match = ["git push"])``.
Evaluating 100,000 of those with Starlark costs most of a minute of CPU on a busy machine
(parsing, bytecode, a ``call_stack()`` per rule), so :func:`literal_records` recognises this shape
and turns the whole file into the builtin *records* the Starlark prelude would have produced,
with a single ``json.loads`` doing the heavy lifting. It is a hand-written parser kept because it
is ~10x faster, and it is deliberately narrow, so it cannot disagree with Starlark:

* every line that is not blank or a comment is ``NAME(kw = value, ...)`` for one of the three
  builtins, starting in column one, optionally followed by ``;`` and a ``#`` comment;
* keyword arguments only, each at most once, each one the builtin accepts, required ones present;
* values are ``None``, double-quoted strings without a backslash (so no escape can mean different
  things in the two languages) and lists of those, with exactly the Starlark types the prelude's
  fast path accepts.

Anything else -- a variable, a function, a tuple, an escape, a trailing comma, a call spanning
lines, a typo -- returns None and the file goes through Starlark, which also produces every error
text. Records from here are validated by the same code as records from Starlark, so values that
are wrong (``decision = "deny"``) give the same located error either way.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["literal_records"]

_SIGNATURES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    # name: (record kind, required, all parameters in record order)
    "prefix_rule": (
        "p",
        ("pattern",),
        ("pattern", "decision", "match", "not_match", "justification"),
    ),
    "network_rule": (
        "n",
        ("host", "protocol", "decision"),
        ("host", "protocol", "decision", "justification"),
    ),
    "host_executable": ("h", ("name", "paths"), ("name", "paths")),
}
_CALL_START = re.compile(r"^(?:prefix_rule|network_rule|host_executable)\(", re.MULTILINE)
_CALL_END = re.compile(r"\)[ \t;]*$", re.MULTILINE)
_CODE = re.compile(r"[ \t\[\],=A-Za-z_()\n;\x01]*")
_EQUALS = re.compile(r"[ \t]*=[ \t]*")
_OPEN = re.compile(r"[ \t]*\(")
_NONE = re.compile(r"\bNone\b")
_LEFTOVER = re.compile(r"[A-Za-z_=()]")
# every keyword of the three builtins, longest first (`match=` is inside `not_match=`)
_KEYWORDS = ("justification", "not_match", "protocol", "decision", "pattern", "match", "paths",
             "host", "name")  # fmt: skip
_STRING = "\x01"  # stands for a string literal while the code around it is rewritten
_BUILTIN = " builtin"  # JSON key of the call's name; not a Starlark identifier
_MAX_LINE = 1 << 16


class _NotLiteral(Exception):
    pass


def _strings(value: Any) -> bool:
    return value.__class__ is list and all(item.__class__ is str for item in value)


def _tokens(value: Any) -> bool:
    if value.__class__ is not list:
        return False
    for item in value:
        if item.__class__ is not str:
            if item.__class__ is not list:
                return False
            for member in item:
                if member.__class__ is not str:
                    return False
    return True


def _record(line: int, pairs: list[tuple[str, Any]]) -> list[Any]:
    args = dict(pairs)
    if len(args) != len(pairs):
        raise _NotLiteral  # a repeated keyword: Starlark reports it
    kind, required, params = _SIGNATURES[args.pop(_BUILTIN)]
    for key in args:
        if key not in params:
            raise _NotLiteral
    for key in required:
        if key not in args:
            raise _NotLiteral
    values = [args.get(key) for key in params]
    if kind == "p":
        pattern, decision, match, not_match, justification = values
        ok = (
            _tokens(pattern)
            and (match is None or _tokens(match))
            and (not_match is None or _tokens(not_match))
            and (decision is None or decision.__class__ is str)
            and (justification is None or justification.__class__ is str)
        )
    elif kind == "n":
        ok = all(v.__class__ is str for v in values[:3]) and (
            values[3] is None or values[3].__class__ is str
        )
    else:
        ok = values[0].__class__ is str and _strings(values[1])
    if not ok:
        raise _NotLiteral  # an unexpected type: Starlark names it in its error
    return [kind, line, *values]


def _statements(source: str) -> tuple[list[int], list[str]] | None:
    """Line numbers and texts (comments cut) of the statements, or None if one is indented."""
    numbers: list[int] = []
    texts: list[str] = []
    for number, raw in enumerate(source.split("\n"), 1):
        line = raw.rstrip(" \t\r")
        if not line or line.lstrip(" \t").startswith("#"):
            continue
        if len(line) > _MAX_LINE or line[0] in " \t":
            return None  # an indented statement is a Starlark syntax error
        if "#" in line:  # a trailing comment: cut at the first # outside a string
            parts = line.split('"')
            for index in range(0, len(parts), 2):
                if "#" in parts[index]:
                    parts[index] = parts[index].split("#", 1)[0]
                    line = '"'.join(parts[: index + 1]).rstrip(" \t")
                    break
        numbers.append(number)
        texts.append(line)
    return numbers, texts


def literal_records(source: str) -> list[Any] | None:
    """The builtin records of ``source`` if it is a literal file (see above), else None."""
    if "\\" in source or _STRING in source:
        return None
    found = _statements(source)
    if found is None or not found[0]:
        return None
    numbers, texts = found
    parts = "\n".join(texts).split('"')
    strings = parts[1::2]
    if len(parts) % 2 == 0 or any("\n" in text for text in strings):
        return None  # an unterminated string
    code = _STRING.join(parts[0::2])
    if not _CODE.fullmatch(code):
        return None
    code = code.replace(" = ", "=")
    if " =" in code or "= " in code or "\t" in code:
        code = _EQUALS.sub("=", code)
    if " (" in code or "\t" in code:
        code = _OPEN.sub("(", code)
    if len(_CALL_START.findall(code)) != len(texts) or len(_CALL_END.findall(code)) != len(texts):
        return None  # a line that is not exactly one call
    code = "\n" + _CALL_END.sub("}", code)
    bare = code
    for name in _SIGNATURES:
        code = code.replace(f"\n{name}(", f'\n{{"{_BUILTIN}":"{name}",')
        bare = bare.replace(f"\n{name}(", "\n")
    for keyword in _KEYWORDS:
        code = code.replace(f"{keyword}=", f'"{keyword}":')
        bare = bare.replace(f"{keyword}=", "")
    if "None" in code:
        bare = _NONE.sub("", bare)
        code = _NONE.sub("null", code)
    if _LEFTOVER.search(bare):
        return None  # a variable, a positional argument, a stray `=` or a nested call
    pieces = code[1:].replace("\n", ",").split(_STRING)
    if len(pieces) != len(strings) + 1:
        return None
    alternating: list[str] = [""] * (len(pieces) + len(strings))
    alternating[0::2] = pieces
    alternating[1::2] = strings
    text = '"'.join(alternating)
    try:
        # object_pairs_hook=list keeps each call's pairs (a repeated keyword must be seen)
        decoded = json.loads("[" + text + "]", object_pairs_hook=list)
        return [_record(number, args) for number, args in zip(numbers, decoded, strict=True)]
    except (ValueError, RecursionError, _NotLiteral):
        return None
