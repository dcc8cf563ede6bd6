"""How a collection is judged as a whole: sets, named allow-lists, prefix rules, the network table.

* **Sets**: allow-lists and ``writable_roots`` loosen when they grow, deny-lists (``deny_read``,
  ``exclude``, managed hooks) when they shrink; unset is unrestricted for an allow-list and empty
  for a deny-list. Reordering an allow-list whose first entry is the fallback (approval
  policies, reviewers) ranks that fallback.
* **Named allow-lists** (``mcp_servers``, ``plugins``): absent allows anything, an entry allows
  that one; a changed identity needs review.
* **Prefix rules** (requirements ``[rules]``): per pattern the *strictest* of its rules counts
  (duplicates included), then its reviewer.
* **The managed network** (``experimental_network``): appearing tightens, disappearing loosens,
  otherwise it is walked key by key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from codex_admin.managed.changes import (
    LOOSER,
    NEUTRAL,
    TIGHTER,
    Change,
    KeyPath,
    arrow,
    effect_of,
    key_label,
    toml_text,
)
from codex_admin.managed.diff_engine import Area, Kind, change_at, is_tables, walk_table
from codex_admin.managed.diff_kinds import Review

__all__ = ["ManagedNetwork", "Members", "NamedAllowList", "PrefixRules"]


def _canon(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


_ALL = None  # an unrestricted set


@dataclass(frozen=True)
class Members(Kind):
    """A set: ``loose_when`` it grows (allow-list) or shrinks (deny-list).

    Unset is unrestricted for an allow-list and empty for a deny-list; in managed config its
    default is ``default`` (None: the same). ``fallback`` ranks the first entry (the value
    used when a configured one is refused).
    """

    loose_when: str  # "grows" | "shrinks"
    default: frozenset[str] | None = None
    fallback: Mapping[str, int] | None = None
    unit = True

    def _set(self, value: Any) -> frozenset[str] | None:
        if value is None:
            return _ALL if self.loose_when == "grows" else frozenset()
        return frozenset(_members(value))

    def judge(self, area: Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        name = key_label(key)
        before, after = self._set(old), self._set(new)
        grew, shrank = _grows(before, after), _grows(after, before)
        if area.config and (old is None or new is None) and self.default is not None:
            d_before = self.default if old is None else before
            d_after = self.default if new is None else after
            grew, shrank = grew or _grows(d_before, d_after), shrank or _grows(d_after, d_before)
        loosening = grew if self.loose_when == "grows" else shrank
        tightening = shrank if self.loose_when == "grows" else grew
        changes: list[Change] = []
        effect = effect_of(loosening, tightening)
        if area.config and (old is None or new is None):
            text = f"managed default `{name}`: {arrow(old, new)}"
            if new is None:
                text += " (each user may now choose)"
            changes.append(change_at(area, key, effect, text, old, new))
        elif old is None:
            what = "now restricted to" if self.loose_when == "grows" else "now lists"
            changes.append(
                change_at(area, key, effect, f"`{name}` {what} {toml_text(new)}", old, new)
            )
        elif new is None:
            what = "restriction" if self.loose_when == "grows" else "list"
            changes.append(change_at(area, key, effect, f"`{name}` {what} removed", old, new))
        elif before is not None and after is not None:
            added, removed = sorted(after - before), sorted(before - after)
            if added:
                text = f"`{name}` grows: + {', + '.join(added)}"
                grow = LOOSER if self.loose_when == "grows" else TIGHTER
                changes.append(change_at(area, key, grow, text, old, new))
            if removed:
                text = f"`{name}` shrinks: - {', - '.join(removed)}"
                shrink = TIGHTER if self.loose_when == "grows" else LOOSER
                changes.append(change_at(area, key, shrink, text, old, new))
        first_old, first_new = _first(old), _first(new)
        if self.fallback is not None and first_old != first_new and old and new:
            ra, rb = self.fallback.get(str(first_old), 99), self.fallback.get(str(first_new), 99)
            effect = effect_of(rb > ra, rb < ra)
            text = f"`{name}` fallback (first entry) {arrow(first_old, first_new)}"
            changes.append(change_at(area, key, effect, text, old, new))
        if not changes:
            changes.append(change_at(area, key, NEUTRAL, f"`{name}` reordered", old, new))
        return changes


def _members(value: Any) -> list[str]:
    if isinstance(value, dict):  # allowed_permission_profiles as a name -> bool table
        return [str(name) for name, on in value.items() if on]
    return [_canon(v) for v in value] if isinstance(value, list) else [_canon(value)]


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else None


def _grows(before: frozenset[str] | None, after: frozenset[str] | None) -> bool:
    """``after`` holds something ``before`` does not (None = everything)."""
    if after is _ALL:
        return before is not _ALL
    return before is not _ALL and bool(after - before)


class NamedAllowList(Kind):
    """``mcp_servers`` / ``plugins``: absent = anything allowed, an entry = that one allowed."""

    unit = True

    def judge(self, area: Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        name = key_label(key)
        if old is None:
            names = ", ".join(sorted(new or {})) or "nothing"
            return [change_at(area, key, TIGHTER, f"`{name}` now restricted to: {names}", old, new)]
        if new is None:
            text = f"`{name}` allow-list removed (any allowed)"
            return [change_at(area, key, LOOSER, text, old, new)]
        changes = []
        for entry in sorted(set(old) | set(new)):
            a, b = old.get(entry), new.get(entry)
            if a == b:
                continue
            if a is None:
                changes.append(change_at(area, key, LOOSER, f"`{name}`: {entry} now allowed", a, b))
            elif b is None:
                text = f"`{name}`: {entry} no longer allowed"
                changes.append(change_at(area, key, TIGHTER, text, a, b))
            else:
                text = f"`{name}`: {entry} identity changed {toml_text(a)} -> {toml_text(b)}"
                changes.append(change_at(area, key, LOOSER, text, a, b))
        return changes


class ManagedNetwork(Kind):
    """``experimental_network``: appearing/disappearing as a whole, else key by key."""

    unit = True

    def judge(self, area: Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        if old is None:
            return [change_at(area, key, TIGHTER, "managed network policy introduced", old, new)]
        if new is None:
            return [change_at(area, key, LOOSER, "managed network policy removed", old, new)]
        if not is_tables(old, new):
            return Review().judge(area, key, old, new)
        return walk_table(area, key, old, new)


_DECISION = {"allow": 0, "prompt": 1, "forbidden": 2}
_RULE_REVIEWER = {"user": 0, None: 1, "auto_review": 2, "guardian_subagent": 2}


def _rule_verdict(rules: Iterable[Mapping[str, Any]]) -> tuple[int, int, Mapping[str, Any]]:
    """(decision rank, reviewer rank, the rule) of the rule that decides: the strictest one.

    The strictest decision wins (as the matcher does); among those, the strictest reviewer.
    An unknown decision ranks as ``allow`` (review the loosest reading).
    """
    best: tuple[int, int, Mapping[str, Any]] | None = None
    for rule in rules:
        decision = _DECISION.get(str(rule.get("decision")), 0)
        reviewer = _RULE_REVIEWER.get(rule.get("reviewer"), 2)
        if best is None or (decision, -reviewer) > (best[0], -best[1]):
            best = (decision, reviewer, rule)
    assert best is not None
    return best


class PrefixRules(Kind):
    """Requirements ``[rules]``: per pattern, the strictest rule decides (duplicates count)."""

    unit = True

    def judge(self, area: Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        before, after = _by_pattern(old), _by_pattern(new)
        changes = []
        for pattern in sorted(set(before) | set(after)):
            a, b = before.get(pattern), after.get(pattern)
            if a == b:
                continue
            label = f"rules `{pattern}`"
            if not a:
                rule = _rule_verdict(b or [])[2]
                effect = LOOSER if rule.get("decision") == "allow" else TIGHTER
                changes.append(
                    change_at(area, key, effect, f"{label} added ({rule.get('decision')})", None, b)
                )
                continue
            if not b:
                rule = _rule_verdict(a)[2]
                effect = TIGHTER if rule.get("decision") == "allow" else LOOSER
                changes.append(
                    change_at(
                        area, key, effect, f"{label} removed ({rule.get('decision')})", a, None
                    )
                )
                continue
            (da, ra, rule_a), (db, rb, rule_b) = _rule_verdict(a), _rule_verdict(b)
            if da != db:
                effect = effect_of(db < da, db > da)
                what = f"decision {rule_a.get('decision')} -> {rule_b.get('decision')}"
            elif ra != rb:
                effect = effect_of(rb > ra, rb < ra)
                what = f"reviewer {arrow(rule_a.get('reviewer'), rule_b.get('reviewer'))}"
            elif len(a) != len(b):
                effect, what = NEUTRAL, f"duplicate rules {len(a)} -> {len(b)} (same decision)"
            else:
                effect, what = NEUTRAL, "justification changed"
            changes.append(change_at(area, key, effect, f"{label}: {what}", a, b))
        return changes


def _rule_key(rule: Mapping[str, Any]) -> str:
    parts = []
    for token in rule.get("pattern", []):
        if isinstance(token, dict) and "any_of" in token:
            parts.append("[" + "|".join(map(str, token["any_of"])) + "]")
        elif isinstance(token, dict):
            parts.append(str(token.get("token")))
        else:
            parts.append(str(token))
    return " ".join(parts)


def _by_pattern(value: Any) -> dict[str, list[Mapping[str, Any]]]:
    rules = (value or {}).get("prefix_rules") if isinstance(value, Mapping) else None
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for rule in rules if isinstance(rules, list) else []:
        if isinstance(rule, Mapping):
            grouped.setdefault(_rule_key(rule), []).append(rule)
    return grouped
