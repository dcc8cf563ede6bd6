"""What one shell word of a tree-sitter-bash tree becomes at run time, when that is certain.

Codex's plain grammar (:mod:`shell`) refuses any word with quotes in odd places or escapes, and
then the whole script is one opaque command. That is safe for *allowing* but was the hole for
*forbidding*: ``git pu\\sh`` or ``git $'\\x70ush'`` ran past a ``git push`` forbid because the
word was simply dropped. :func:`word_of` instead computes the word's value after quote removal,
exactly as bash does, for every spelling that has one fixed value:

* unquoted words with backslash escapes (``pu\\sh`` is ``push``; ``\\<newline>`` vanishes);
* ``'single'`` quotes (verbatim), ``"double"`` quotes without expansions (``\\$ \\` \\" \\\\``
  and ``\\<newline>`` are escapes there, other backslashes stay);
* ``$'ANSI-C'`` quotes with every bash escape (``\\x70``, ``\\160``, ``\\u0070``, ``\\cX``...;
  a ``\\0`` ends the word, as bash's C strings do);
* concatenations of those (``g''it``, ``"pu"sh``).

Everything else is *dynamic* (``static=False``): parameter and command substitution, arithmetic,
``$"..."`` (translated at run time), globs (``pu?h`` matches a file named ``push``), brace
expansion, a leading ``~`` or ``=`` (zsh's ``=git``), zsh glob operators. A dynamic word's
``text`` is its source text, for messages. Callers treat a dynamic word as "could be anything,
or several words, or none".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codex_admin.bash_syntax import node_text

__all__ = ["Word", "decode_ansi_c", "word_of"]

_GLOB_OR_BRACE = frozenset("*?[{}^")
_DQ_ESCAPES = frozenset('$`"\\\n')
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}
_OCTAL = frozenset("01234567")
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class Word:
    """A word's value after quote removal (``static``), or its source text (dynamic)."""

    text: str
    static: bool = True


def _unquoted(text: str) -> str | None:
    """Quote removal for an unquoted word; None when it is subject to expansion."""
    if not text or text[0] in "~=" or any(ch in _GLOB_OR_BRACE for ch in text):
        return None
    if "$" in text or "`" in text:
        return None
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            if text[i + 1] != "\n":
                out.append(text[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _double_quoted(inner: str) -> str | None:
    out: list[str] = []
    i = 0
    while i < len(inner):
        ch = inner[i]
        if ch == "\\" and i + 1 < len(inner) and inner[i + 1] in _DQ_ESCAPES:
            if inner[i + 1] != "\n":
                out.append(inner[i + 1])
            i += 2
            continue
        if ch in "$`":
            return None
        out.append(ch)
        i += 1
    return "".join(out)


def decode_ansi_c(inner: str) -> str | None:
    """The value of ``$'inner'`` as bash computes it; None for a form we do not model."""
    out: list[str] = []
    i = 0
    n = len(inner)
    while i < n:
        ch = inner[i]
        if ch != "\\" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        esc = inner[i + 1]
        i += 2
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
        elif esc in _OCTAL:
            digits = esc
            while i < n and len(digits) < 3 and inner[i] in _OCTAL:
                digits += inner[i]
                i += 1
            value = int(digits, 8) & 0xFF
            if value == 0:
                break  # bash strings end at NUL
            out.append(chr(value) if value < 0x80 else chr(0xDC00 + value))
        elif esc in "xuU":
            limit = {"x": 2, "u": 4, "U": 8}[esc]
            digits = ""
            while i < n and len(digits) < limit and inner[i] in _HEX:
                digits += inner[i]
                i += 1
            if not digits:
                out.append("\\" + esc)
                continue
            value = int(digits, 16)
            if value == 0:
                break
            if esc == "x":
                out.append(chr(value) if value < 0x80 else chr(0xDC00 + value))
            elif value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                return None
            else:
                out.append(chr(value))
        elif esc == "c":
            if i >= n:
                return None
            control = ord(inner[i].upper()) ^ 0x40 if inner[i] != "?" else 0x7F
            i += 1
            if control == 0:
                break
            out.append(chr(control & 0x7F))
        else:
            out.append("\\" + esc)
    return "".join(out)


def _static(node: Any) -> str | None:
    kind = node.type
    text = node_text(node)
    if kind in ("word", "number"):
        return None if node.named_children else _unquoted(text)
    if kind == "raw_string":
        return text[1:-1] if len(text) >= 2 and text.endswith("'") else None
    if kind == "string":
        if text.startswith("$") or len(text) < 2 or not text.endswith('"'):
            return None  # $"..." is translated at run time
        if any(child.is_named and child.type != "string_content" for child in node.children):
            return None
        return _double_quoted(text[1:-1])
    if kind == "ansi_c_string":
        if not (text.startswith("$'") and text.endswith("'") and len(text) >= 3):
            return None
        return decode_ansi_c(text[2:-1])
    if kind == "concatenation":
        parts: list[str] = []
        for child in node.children:
            value = _static(child)
            if value is None:
                return None
            parts.append(value)
        return "".join(parts)
    return None


def word_of(node: Any) -> Word:
    """The run-time value of a word node (see the module docstring)."""
    value = _static(node)
    if value is None:
        return Word(node_text(node), static=False)
    return Word(value)
