"""Path rules shared by every package: does a path fall under a ``deny_read`` entry?

``permissions.filesystem.deny_read`` (requirements) lists absolute paths and globs. The sandbox
expands them on disk when it mounts (``sandbox/plan.py``); the file-edit check and the AGENTS.md
loader need the opposite question for one path, without walking the tree, and answer it here:

* a plain entry covers itself and everything below it;
* a glob (``*``, ``?``, ``[...]``, ``**``) covers every path it matches and everything below a
  match. ``*`` and ``?`` never cross ``/`` and also match names starting with a dot (the sandbox
  globs with ``include_hidden``); ``**`` as a whole component matches any number of
  directories, including none; ``[!...]`` negates a class.

Pure: no filesystem access. A path with symlinks should be checked both as written and as
resolved (callers do that; see ``apply_patch.safety`` and ``instructions``). This module is a
leaf: it imports nothing of ours, so every package may use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import PurePosixPath

__all__ = ["DenyReadRules", "glob_to_regex", "is_glob"]

_GLOB_CHARS = frozenset("*?[")


def is_glob(entry: str) -> bool:
    """True when ``entry`` has glob syntax (the sandbox expands these, not plain paths)."""
    return bool(_GLOB_CHARS & set(entry))


def _class(pattern: str, start: int) -> tuple[str, int] | None:
    """Translate ``[...]`` at ``start``; None when it is not a complete class."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] in "!^"
    if negate:
        i += 1
    body_start = i
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 1
    if i >= len(pattern):
        return None
    body = pattern[body_start:i]
    if "/" in body:
        return None
    escaped = "".join("\\" + c if c in "\\^" else c for c in body)
    return ("[^/" + escaped + "]" if negate else "[" + escaped + "]"), i + 1


@lru_cache(maxsize=256)
def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """A compiled regex matching whole paths the way the sandbox's glob expansion would."""
    parts = pattern.split("/")
    out: list[str] = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            out.append("(?:.*/)?" if not last else ".*")
            continue
        piece: list[str] = []
        i = 0
        while i < len(part):
            char = part[i]
            if char == "*":
                piece.append("[^/]*")
            elif char == "?":
                piece.append("[^/]")
            elif char == "[" and (translated := _class(part, i)) is not None:
                piece.append(translated[0])
                i = translated[1]
                continue
            else:
                piece.append(re.escape(char))
            i += 1
        out.append("".join(piece) + ("" if last else "/"))
    return re.compile("".join(out))


class DenyReadRules:
    """The ``deny_read`` entries of a policy; :meth:`match` names the entry covering a path."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = tuple(dict.fromkeys(e.rstrip("/") or "/" for e in entries if e))
        self._plain = tuple(PurePosixPath(e) for e in self.entries if not is_glob(e))
        self._globs = tuple((e, glob_to_regex(e)) for e in self.entries if is_glob(e))

    def __bool__(self) -> bool:
        return bool(self.entries)

    def match(self, path: str | PurePosixPath) -> str | None:
        """The first entry covering absolute ``path`` (or one of its ancestors), else None."""
        candidate = PurePosixPath(path)
        for plain in self._plain:
            if candidate == plain or plain in candidate.parents:
                return str(plain)
        if self._globs:
            chain = [str(candidate), *(str(p) for p in candidate.parents)]
            for pattern, regex in self._globs:
                if any(regex.fullmatch(text) for text in chain):
                    return pattern
        return None
