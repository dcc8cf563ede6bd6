"""Matcher rules of spec §3.2 (pure)."""

from __future__ import annotations

import pytest

from codex_admin.hooks import Matcher, MatcherKind


@pytest.mark.parametrize("pattern", [None, "", "*"])
def test_match_all(pattern: str | None) -> None:
    m = Matcher.compile(pattern)
    assert m.kind is MatcherKind.ALL
    assert m.matches(["Bash"]) and m.matches(["Write"]) and m.matches(None)


def test_exact_names_with_alternatives() -> None:
    m = Matcher.compile("Edit|Write")
    assert m.kind is MatcherKind.EXACT
    assert m.matches(["Edit"]) and m.matches(["Write"])
    assert not m.matches(["Bash"])


def test_literal_is_exact_not_prefix() -> None:
    assert Matcher.compile("Bash").matches(["Bash"])
    assert not Matcher.compile("Bash").matches(["BashOutput"])
    assert not Matcher.compile("mcp__memory").matches(["mcp__memory__create_entities"])
    assert Matcher.compile("mcp__memory__create_entities").matches(["mcp__memory__create_entities"])


def test_regex_when_special_characters() -> None:
    assert Matcher.compile("^Bash").kind is MatcherKind.REGEX
    assert Matcher.compile("^Bash").matches(["BashOutput"])
    assert Matcher.compile("^Bash$").matches(["Bash"])
    assert not Matcher.compile("^Bash$").matches(["BashOutput"])
    m = Matcher.compile("mcp__.*__write.*")
    assert m.matches(["mcp__filesystem__write_file"])
    assert not m.matches(["mcp__filesystem__read_file"])


def test_invalid_regex_never_matches() -> None:
    m = Matcher.compile("[")
    assert m.kind is MatcherKind.INVALID and m.error
    assert not m.matches(["Bash"]) and not m.matches(["["])


def test_ignored_matcher_matches_everything_even_if_invalid() -> None:
    m = Matcher.compile("[", used=False)
    assert m.kind is MatcherKind.IGNORED and m.error is None
    assert m.matches(None) and m.matches(["anything"])


def test_any_alias_selects() -> None:
    inputs = ["apply_patch", "Write", "Edit"]
    assert Matcher.compile("Write").matches(inputs)
    assert Matcher.compile("Edit|Write").matches(inputs)
    assert Matcher.compile("apply_patch").matches(inputs)
    assert not Matcher.compile("Bash").matches(inputs)


def test_named_matcher_without_inputs_does_not_match() -> None:
    assert not Matcher.compile("Bash").matches(None)
