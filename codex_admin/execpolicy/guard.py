"""Prompt and forbidden rules applied to every invocation a command reaches, however spelled.

Codex's matcher compares argv tokens with rule tokens, which is right for *allowing* (an exact,
narrow privilege) and too narrow for *restricting*. :func:`restrictive_findings` applies the
prompt/forbidden rules of an invocation's program to it:

* by the program's file name, whatever path spells it (``/tmp/git``, ``./git``; issue #37079);
* on the words that are known (:class:`~codex_admin.execpolicy.words.Word`): a rule matched by
  the static words is a match; a rule that the words seen so far do not rule out, followed by a
  word computed at run time (``git $(echo push)``, ``X=push; git $X``), is a *problem*: the
  command is opaque and needs approval;
* with leading options skipped (``npm --prefix . publish`` for ``npm publish``, each option with
  or without one value): a wrapper-style global option must not hide the subcommand. git's own
  global options are read exactly instead (:mod:`gitcli`).
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Iterator, Sequence

from codex_admin.execpolicy.analysis import Invocation
from codex_admin.execpolicy.model import PrefixRule, PrefixRuleMatch
from codex_admin.execpolicy.policy import Policy, normalize_absolute

__all__ = ["restrictive_findings"]

_MAX_SKIPPED_OPTIONS = 4


def _names(program: str) -> list[str]:
    """The rule keys a program spelling answers to: as written and by its file name."""
    names = [program]
    if "/" in program or program.startswith("~"):
        absolute = normalize_absolute(program)
        base = posixpath.basename(posixpath.normpath(absolute or program))
        if base and base not in (".", "..") and base not in names:
            names.append(base)
    return names


def _skipping_options(args: Sequence[str]) -> Iterator[list[str]]:
    """``args`` with leading options removed, each option taking no value or the next word."""
    pending: list[tuple[int, int]] = [(0, 0)]
    while pending:
        start, skipped = pending.pop()
        if start >= len(args) or not args[start].startswith("-") or args[start] == "-":
            if skipped:
                yield list(args[start:])
            continue
        if args[start] == "--" or skipped >= _MAX_SKIPPED_OPTIONS:
            if skipped:
                yield list(args[start + 1 :]) if args[start] == "--" else list(args[start:])
            continue
        pending.append((start + 1, skipped + 1))
        if "=" not in args[start] and start + 1 < len(args):
            pending.append((start + 2, skipped + 1))


def _describe(rule: PrefixRule) -> str:
    shown = " ".join(t if isinstance(t, str) else "[" + "|".join(t) + "]" for t in rule.pattern())
    where = f" ({rule.source})" if rule.source else ""
    return f"`{shown}`{where}"


def restrictive_findings(
    policy: Policy, invocation: Invocation, *, skip_options: bool = True
) -> tuple[list[PrefixRuleMatch], list[str]]:
    """Restrictive matches of ``invocation`` and the problems its dynamic words cause."""
    words = invocation.words
    if not words or not words[0].static:
        return [], []
    names = [n for n in _names(words[0].text) if policy.is_restricted(n)]
    if not names:
        return [], []
    literal = invocation.literal_prefix()
    dynamic = len(literal) < len(words)
    spelled = words[0].text
    matches: list[PrefixRuleMatch] = []
    problems: list[str] = []
    seen: set[int] = set()
    variants = [literal[1:]]
    if skip_options and posixpath.basename(spelled) != "git":
        variants += list(_skipping_options(literal[1:]))
    for name in names:
        resolved = normalize_absolute(spelled) if name != spelled else None
        for args in variants:
            for found in policy.restrictive_matches([name, *args]):
                if found.rule is not None and id(found.rule) not in seen:
                    seen.add(id(found.rule))
                    matches.append(
                        PrefixRuleMatch(
                            found.matched_prefix,
                            found.decision,
                            resolved,
                            found.justification,
                            found.rule,
                        )
                    )
            if dynamic:
                rule = policy.first_restrictive(name, args)
                if rule is not None:
                    problems.append(
                        f"`{shlex.join(invocation.texts)}` has a word computed at run time where "
                        f"the rule {_describe(rule)} could apply"
                    )
    return matches, list(dict.fromkeys(problems))
