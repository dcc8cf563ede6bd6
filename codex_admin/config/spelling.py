"""Did you mean: the closest known spellings of a mistyped key, feature, kind or option."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["suggest"]


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean `x`?)`` for the closest choices, or "" when nothing is close."""
    import difflib  # only when a word is misspelt: not every start-up's cost

    close = difflib.get_close_matches(word, list(choices), n=2, cutoff=0.7)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"`{c}`" for c in close) + "?)"
