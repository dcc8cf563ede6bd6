"""Find a chunk's old lines in a file: Codex's four passes, strictest first.

1. exact; 2. ignoring trailing whitespace; 3. ignoring leading and trailing whitespace;
4. after normalising typographic dashes, quotes and odd spaces to ASCII (and trimming).

The search starts at the cursor (the end of the previous match), so chunks must come in file
order. With ``*** End of File`` only the last window is tried, and only if it is at or after the
cursor (the 0.169.0 binary refuses an end-of-file chunk that would overlap an earlier one).
Whitespace is Rust's White_Space set, as in the parser.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from codex_admin.apply_patch.parser import rust_trim

__all__ = ["normalise_punctuation", "seek_sequence"]

_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

_PUNCTUATION = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f", '"'),
        **dict.fromkeys(
            "\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "
        ),
    }
)


def normalise_punctuation(text: str) -> str:
    """Trim, then map typographic dashes, quotes and odd spaces to their ASCII look-alikes."""
    return rust_trim(text).translate(_PUNCTUATION)


def _rstrip(text: str) -> str:
    return text.rstrip(_WHITESPACE)


_PASSES: tuple[Callable[[str], str], ...] = (_rstrip, rust_trim, normalise_punctuation)


def seek_sequence(
    lines: Sequence[str], pattern: Sequence[str], start: int, end_of_file: bool
) -> int | None:
    """Index of the first window at or after ``start`` matching ``pattern``, or None."""
    size = len(pattern)
    if size == 0:
        return start
    last = len(lines) - size
    if last < 0:
        return None
    if end_of_file:
        if last < start:
            return None
        start = last
    first = pattern[0]
    wanted = list(pattern)
    for i in range(start, last + 1):
        if lines[i] == first and list(lines[i : i + size]) == wanted:
            return i
    for transform in _PASSES:
        target = [transform(p) for p in pattern]
        head = target[0]
        for i in range(start, last + 1):
            if transform(lines[i]) != head:
                continue
            if all(transform(lines[i + k]) == target[k] for k in range(1, size)):
                return i
    return None
