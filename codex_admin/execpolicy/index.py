"""A prefix tree over the leading literal tokens of one program's rules.

Matching a command used to scan every rule of its program, so 10,000 rules for ``git`` made a
check 600 times slower than 10. :class:`RuleIndex` files each rule under the path of its first
few pattern tokens (one branch per alternative, while the branching stays small); a lookup walks
the command's own tokens down the tree and collects only the rules filed on that path. Those
candidates are a superset of the matches (tokens beyond the indexed depth are not checked here),
so the caller still confirms each with :meth:`PrefixRule.match_prefix`; the order is the rules'
declaration order, as Codex reports matches.

Built once per program and never mutated: a policy that gains a rule drops that program's index
and builds a new one on the next lookup, so indexes can be shared between policies.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from codex_admin.execpolicy.model import PrefixRule, token_matches

__all__ = ["RuleIndex"]

MAX_DEPTH = 8  # pattern positions after the program that are indexed
MAX_BRANCHES = 64  # a rule is filed under at most this many paths (alternatives multiply)


class _Node:
    __slots__ = ("children", "rules")

    def __init__(self) -> None:
        self.rules: list[tuple[int, PrefixRule]] = []
        self.children: dict[str, _Node] = {}


class RuleIndex:
    """Candidate rules for a command, by its leading tokens (see the module docstring)."""

    __slots__ = ("_root",)

    def __init__(self, rules: Sequence[PrefixRule]) -> None:
        self._root = _Node()
        for seq, rule in enumerate(rules):
            nodes = [self._root]
            for token in rule.rest[:MAX_DEPTH]:
                options = (token,) if isinstance(token, str) else tuple(dict.fromkeys(token))
                if len(nodes) * len(options) > MAX_BRANCHES:
                    break
                deeper: list[_Node] = []
                for node in nodes:
                    for option in options:
                        child = node.children.get(option)
                        if child is None:
                            child = node.children[option] = _Node()
                        deeper.append(child)
                nodes = deeper
            for node in nodes:
                node.rules.append((seq, rule))

    def candidates(self, cmd: Sequence[str], start: int = 1) -> list[PrefixRule]:
        """Rules that may match a command whose arguments begin at ``cmd[start]``."""
        node = self._root
        found = node.rules
        several = False
        for position in range(start, min(len(cmd), start + MAX_DEPTH)):
            child = node.children.get(cmd[position])
            if child is None:
                break
            node = child
            if node.rules:
                if found:
                    if not several:
                        found = list(found)
                        several = True
                    found.extend(node.rules)
                else:
                    found = node.rules
        if several:
            found.sort(key=lambda item: item[0])
        return [rule for _, rule in found]

    def first_extending(self, args: Sequence[str]) -> PrefixRule | None:
        """A rule longer than ``1 + len(args)`` whose first positions all accept ``args``.

        That is a rule the command could still match if more (unknown) words followed ``args``:
        the question asked when a command's next word is dynamic.
        """
        node = self._root
        path = [node]
        for arg in args[:MAX_DEPTH]:
            child = node.children.get(arg)
            if child is None:
                break
            node = child
            path.append(node)
        complete = len(path) == min(len(args), MAX_DEPTH) + 1
        for visited in path:
            for _, rule in visited.rules:
                if _extends(rule, args):
                    return rule
        if complete:
            for rule in _subtree(node):
                if _extends(rule, args):
                    return rule
        return None


def _extends(rule: PrefixRule, args: Sequence[str]) -> bool:
    return len(rule.rest) > len(args) and all(
        token_matches(token, arg) for token, arg in zip(rule.rest, args, strict=False)
    )


def _subtree(node: _Node) -> Iterator[PrefixRule]:
    stack = list(node.children.values())
    while stack:
        current = stack.pop()
        for _, rule in current.rules:
            yield rule
        stack.extend(current.children.values())
