"""Rule-level diff of ``*.rules`` files, loaded by the execpolicy engine.

Rules are compared in the ``codex execpolicy show --json`` shape (a documented, stable format),
keyed by program + pattern. ``allow`` widens, ``prompt``/``forbidden`` restrict, so: an added
allow rule or a removed prompt/forbidden rule loosens; the opposite tightens; a decision change
is ranked allow < prompt < forbidden. Network rules are keyed by host + protocol the same way.
The engine (Starlark) is imported when a diff or a check first loads rules, not with ``managed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from codex_admin.config import Issue
from codex_admin.errors import CodexError, Location
from codex_admin.managed.changes import LOOSER, NEUTRAL, TIGHTER, Change

__all__ = ["check_rule_files", "diff_rule_files"]

_RANK = {"allow": 0, "prompt": 1, "forbidden": 2, "deny": 2}


def _load_rules(paths: Sequence[Path]) -> Any:
    # Imported here: the Starlark engine is a diff's and a check's cost, not `managed`'s.
    from codex_admin.execpolicy import load_policy_files

    return load_policy_files([str(p) for p in paths])


def check_rule_files(paths: Sequence[Path]) -> list[Issue]:
    """One located issue per ``*.rules`` file that does not load (each file on its own)."""
    issues = []
    for path in paths:
        try:
            _load_rules([path])
        except CodexError as err:
            issues.append(Issue(err.message, err.location or Location(path)))
    return issues


def _load(paths: Sequence[Path]) -> dict[str, Any]:
    if not paths:
        return {"rules": {}, "network_rules": []}
    data: dict[str, Any] = _load_rules(paths).to_json()
    return data


def _index(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Rules by program + pattern (network rules by protocol + host). Several rules with one
    key (duplicates, possibly from several files) count as their strictest one, as the matcher
    decides: removing a duplicate ``forbidden`` that shadowed a ``prompt`` loosens."""
    out: dict[str, dict[str, Any]] = {}

    def keep(key: str, rule: dict[str, Any]) -> None:
        current = out.get(key)
        if current is None or _rank(rule) > _rank(current):
            out[key] = rule

    for program, rules in (data.get("rules") or {}).items():
        for rule in rules:
            pattern = rule.get("pattern") or [program]
            words = [
                t if isinstance(t, str) else "[" + "|".join(map(str, t)) + "]" for t in pattern
            ]
            keep(f"prefix_rule {' '.join(words)}", rule)
    for rule in data.get("network_rules") or []:
        keep(f"network_rule {rule.get('protocol')}://{rule.get('host')}", rule)
    return out


def _rank(rule: Mapping[str, Any] | None) -> int:
    """allow 0 < prompt 1 < forbidden/deny 2; an unknown decision ranks as allow (loosest)."""
    return _RANK.get(str((rule or {}).get("decision")), 0)


def diff_rule_files(old: Sequence[Path], new: Sequence[Path]) -> list[Change]:
    """Changes between two sets of rules files (each side evaluated as one policy)."""
    before, after = _index(_load(old)), _index(_load(new))
    changes: list[Change] = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        da = str(a.get("decision")) if a else None
        db = str(b.get("decision")) if b else None
        if da == db and (a or {}).get("justification") == (b or {}).get("justification"):
            continue
        where = (b or a or {}).get("source") or ""
        if a is None:
            effect = LOOSER if _rank(b) == 0 else TIGHTER
            text = f"{key} added ({db})"
        elif b is None:
            effect = TIGHTER if _rank(a) == 0 else LOOSER
            text = f"{key} removed (was {da})"
        else:
            ra, rb = _rank(a), _rank(b)
            effect = TIGHTER if rb > ra else LOOSER if rb < ra else NEUTRAL
            text = f"{key}: decision {da} -> {db}" if da != db else f"{key}: justification changed"
        changes.append(Change("rules", where.rsplit(":", 1)[0] or key, effect, text, a, b))
    return changes
