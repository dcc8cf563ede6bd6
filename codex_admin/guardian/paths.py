"""Paths as a command names them, resolved without touching the filesystem, and path globs.

A rule table names paths with ``~`` (the user's home), ``$CODEX_HOME``, ``$CODEX_SYSTEM_DIR``
and globs (``*`` within one component, ``**`` across components, ``?``); a pattern starting
with ``**/`` matches anywhere. :class:`PathEnv` expands a command's words the same way a shell
would for the spellings that matter (``~``, ``~/x``, ``$HOME``, ``${HOME}``, ``$CODEX_HOME``;
relative paths against the command's cwd) and normalises ``..`` lexically. Other variables stay
unexpanded, so ``$DIR/x`` never resolves to a protected path by accident -- and never to a safe
one either: callers treat an unresolved word as unknown.

:meth:`PathPattern.matches` says whether a path is the pattern; :meth:`PathPattern.within`
whether a path is the pattern's anchor or one of its ancestors (``tar ~`` packs ``~/.ssh``).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["PathEnv", "PathPattern", "path_candidates"]

_GLOB = re.compile(r"[*?\[]")


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    """A replacement function: ``re.sub`` would read backslashes in a plain string."""
    return lambda _match: text


@dataclass(frozen=True)
class PathEnv:
    """Where ``~`` and ``$CODEX_HOME`` point, for one review."""

    home: str
    codex_home: str
    system_dir: str = "/etc/codex"

    @classmethod
    def from_environ(
        cls, *, codex_home: str | None = None, system_dir: str | None = None
    ) -> PathEnv:
        home = os.environ.get("HOME") or os.path.expanduser("~")
        return cls(
            home=posixpath.normpath(home),
            codex_home=posixpath.normpath(codex_home or posixpath.join(home, ".codex")),
            system_dir=posixpath.normpath(system_dir or "/etc/codex"),
        )

    def expand(self, word: str) -> str | None:
        """The expanded spelling, or None when an unknown variable or substitution remains."""
        value = word
        for name, target in (
            ("CODEX_HOME", self.codex_home),
            ("CODEX_SYSTEM_DIR", self.system_dir),
            ("HOME", self.home),
        ):
            value = value.replace("${" + name + "}", target)
            value = re.sub(r"\$" + name + r"(?![A-Za-z0-9_])", _literal(target), value)
        if value == "~" or value.startswith("~/"):
            value = self.home + value[1:]
        if "$" in value or "`" in value or value.startswith("~"):
            return None
        return value

    def resolve(self, word: str, cwd: str) -> str | None:
        """``word`` as an absolute, lexically normalised path (None when not knowable)."""
        value = self.expand(word)
        if value is None or not value:
            return None
        if not value.startswith("/"):
            value = posixpath.join(cwd, value)
        normal = posixpath.normpath(value)
        return "/" if normal.startswith("//") and normal.strip("/") == "" else normal

    def pattern(self, text: str) -> PathPattern:
        return _compile(text, self)


@dataclass(frozen=True)
class PathPattern:
    text: str
    regex: re.Pattern[str]
    anchor: str | None  # fixed directory prefix for anchored patterns, None for `**/` ones

    def matches(self, path: str) -> bool:
        return bool(self.regex.fullmatch(path))

    def within(self, path: str) -> bool:
        """``path`` is the anchor itself or one of its ancestors (so it contains the match)."""
        if self.anchor is None:
            return False
        if path == "/":
            return True
        return self.anchor == path or self.anchor.startswith(path.rstrip("/") + "/")


def _glob_regex(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


@lru_cache(maxsize=4096)
def _compile(text: str, env: PathEnv) -> PathPattern:
    if text.startswith("**/"):
        return PathPattern(text, re.compile(r"(?:.*/)?" + _glob_regex(text[3:])), None)
    expanded = env.expand(text)
    if expanded is None or not expanded.startswith("/"):
        raise ValueError(f"path pattern {text!r} must start with /, ~, $CODEX_HOME or **/")
    expanded = expanded.rstrip("/") or "/"
    fixed = []
    for part in expanded.split("/"):
        if _GLOB.search(part):
            break
        fixed.append(part)
    anchor = "/".join(fixed) or "/"
    return PathPattern(text, re.compile(_glob_regex(expanded)), posixpath.normpath(anchor))


def path_candidates(word: str) -> Iterator[str]:
    """The spellings in one word that may be a path: the word, an option's ``=value``, a
    curl-style ``@file`` / ``name=@file`` / ``<file``. URLs and bare options yield nothing."""
    seen: set[str] = set()
    pieces: Iterable[str] = (word, word.split("=", 1)[1] if "=" in word else "")
    for piece in pieces:
        for value in (piece, piece[1:] if piece[:1] in ("@", "<") else ""):
            if not value or value in seen or "://" in value:
                continue
            if value.startswith("-") and value != "-":
                continue
            seen.add(value)
            yield value
