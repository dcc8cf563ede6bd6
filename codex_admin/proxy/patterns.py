"""Domain patterns (spec §4) compiled to anchored, label-bounded regular expressions.

* ``example.com`` — exactly that host (case- and trailing-dot-insensitive via normalisation);
* ``*.example.com`` — strict subdomains only, any depth; never the apex;
* ``**.example.com`` — the apex and every subdomain;
* ``*`` — every host; accepted in allow lists only (a deny-list ``*`` is a configuration error);
* a ``*`` or ``?`` inside a label (``region*.example.com``) matches within that one label only —
  unlike Codex's globset, a star never crosses a dot (attack A16);
* IPv6 literals may be written bracketed or bare; zones must match exactly.

Suffix confusion (``evilexample.com``, ``example.com.evil.net``) never matches (A14).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from codex_admin.proxy.hosts import HostError, normalize_host

__all__ = ["Pattern", "PatternError", "PatternSet", "compile_pattern"]

GLOBAL_WILDCARDS = frozenset({"*", "[*]", "**.[*]", "**.*", "*.*"})


class PatternError(ValueError):
    """A pattern that cannot be compiled; the message says why."""


@dataclass(frozen=True)
class Pattern:
    """One compiled pattern. ``text`` is the normalised source shown in reports."""

    text: str
    regex: re.Pattern[str] = field(compare=False, repr=False)
    is_global: bool = False

    @property
    def is_explicit(self) -> bool:
        """A pattern without wildcards: the only kind that can admit a local literal."""
        return not self.is_global and "*" not in self.text and "?" not in self.text

    def matches(self, host: str) -> bool:
        return self.is_global or self.regex.fullmatch(host) is not None


def _label_regex(label: str) -> str:
    parts = []
    for char in label:
        if char == "*":
            parts.append("[^.]*")
        elif char == "?":
            parts.append("[^.]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


def compile_pattern(raw: str, *, allow_global: bool) -> Pattern:
    """Compile ``raw``; ``allow_global`` says whether the global wildcard is acceptable here."""
    text = raw.strip()
    if text in GLOBAL_WILDCARDS:
        if not allow_global:
            raise PatternError(f"the global wildcard {raw!r} is only accepted in a user allow list")
        return Pattern("*", re.compile(".*"), is_global=True)
    prefix = ""
    body = text
    for candidate in ("**.", "*."):
        if text.startswith(candidate):
            prefix, body = candidate, text[len(candidate) :]
            break
    bracketed = body.startswith("[")
    if "[" in body[1:] or ("[" in body and not bracketed):
        raise PatternError(f"character classes are not supported in pattern {raw!r}")
    try:
        host = normalize_host(body, allow_wildcards=True)
    except HostError as err:
        raise PatternError(f"invalid pattern {raw!r}: {err}") from None
    if bracketed and ":" not in host:
        raise PatternError(f"only IPv6 literals may be bracketed: {raw!r}")
    if host.startswith("*") and "." not in host and prefix:
        raise PatternError(f"pattern {raw!r} has no domain after its wildcard")
    if ":" in host:  # IPv6 literal: no wildcards inside
        if prefix or "*" in host or "?" in host:
            raise PatternError(f"wildcards are not supported in IPv6 pattern {raw!r}")
        return Pattern(host, re.compile(re.escape(host)))
    body_re = r"\.".join(_label_regex(label) for label in host.split("."))
    if prefix == "*.":
        regex = rf"(?:[^.]+\.)+{body_re}"
    elif prefix == "**.":
        regex = rf"(?:[^.]+\.)*{body_re}"
    else:
        regex = body_re
    return Pattern(prefix + host, re.compile(regex))


@dataclass(frozen=True)
class PatternSet:
    """An ordered, de-duplicated list of patterns with a first-match lookup."""

    patterns: tuple[Pattern, ...] = ()

    @classmethod
    def build(cls, raw: list[str] | tuple[str, ...], *, allow_global: bool) -> PatternSet:
        seen: dict[str, Pattern] = {}
        for item in raw:
            pattern = compile_pattern(item, allow_global=allow_global)
            seen.setdefault(pattern.text, pattern)
        return cls(tuple(seen.values()))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __len__(self) -> int:
        return len(self.patterns)

    def match(self, host: str) -> Pattern | None:
        for pattern in self.patterns:
            if pattern.matches(host):
                return pattern
        return None

    def explicit(self, host: str) -> Pattern | None:
        """An explicit (wildcard-free) pattern equal to ``host``."""
        for pattern in self.patterns:
            if pattern.is_explicit and pattern.text == host:
                return pattern
        return None

    def texts(self) -> list[str]:
        return [p.text for p in self.patterns]
