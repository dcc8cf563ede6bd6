"""How a single value is judged: neutral, review, pinned, ranked, a verdict, a feature flag.

* **Ranked values** (and booleans with a direction): moving towards the loose end is looser; in
  managed config an unset key is both the loosest *capability* (each user may choose) and
  Codex's *default*, and a change loosens when it loosens either.
* **Verdicts** of a domain or socket pattern: ``deny`` < unlisted < ``allow``.
* **Feature flags**: a direction from the flag's name (``exec_policy`` and ``hooks`` restrict,
  every other known feature enables something); unknown ones are reviewed.
* **Pinned** values: appearing tightens, disappearing loosens, any other change needs review.
* **Review**: any change counts as looser, so a CI gate asking a second approver for loosening
  cannot be bypassed by an unfamiliar field. **Neutral**: plain values such as ports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codex_admin.config import KNOWN_FEATURES, canonical_feature
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
from codex_admin.managed.diff_engine import Area, Kind, change_at

__all__ = [
    "BOOL_LOOSE",
    "BOOL_TIGHT",
    "Feature",
    "Neutral",
    "Pinned",
    "Ranked",
    "Review",
    "Verdict",
]


class Neutral(Kind):
    def judge(self, area: Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        what = "managed default" if area.config else "requirement"
        return [
            change_at(area, key, NEUTRAL, f"{what} `{key_label(key)}`: {arrow(old, new)}", old, new)
        ]


class Review(Kind):
    """Any change needs a second look (counts as looser)."""

    def judge(self, area: Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        what = "managed default" if area.config else "requirement"
        text = f"{what} `{key_label(key)}`: {arrow(old, new)} (unclassified change; review it)"
        return [change_at(area, key, LOOSER, text, old, new)]


class Pinned(Kind):
    """A requirement that pins one value: appearing tightens, disappearing loosens."""

    def judge(self, area: Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        name = key_label(key)
        if old is None:
            return [
                change_at(
                    area, key, TIGHTER, f"`{name}` is now required: {toml_text(new)}", old, new
                )
            ]
        if new is None:
            return [change_at(area, key, LOOSER, f"`{name}` requirement removed", old, new)]
        text = f"`{name}` changed: {arrow(old, new)} (review it)"
        return [change_at(area, key, LOOSER, text, old, new)]


@dataclass(frozen=True)
class Ranked(Kind):
    """Values ordered tight (low rank) to loose (high rank).

    ``unset`` is the rank of an unset *requirement* (default: the loosest); ``default`` is
    Codex's value when managed config leaves the key unset (users may then choose any value).
    """

    order: Mapping[Any, int]
    unset: int | None = None
    default: Any = None

    def _rank(self, value: Any) -> int | None:
        try:
            return self.order.get(value)
        except TypeError:  # an unhashable value (a table where a word belongs)
            return None

    def judge(self, area: Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        loosest = max(self.order.values())
        ranks = []
        for value in (old, new):
            if value is None:
                cap = loosest if area.config or self.unset is None else self.unset
                default = self._rank(self.default) if area.config else cap
                ranks.append((cap, cap if default is None else default))
                continue
            rank = self._rank(value)
            if rank is None:  # a value this table does not know: review it
                return Review().judge(area, key, old, new)
            ranks.append((rank, rank))
        (cap_a, def_a), (cap_b, def_b) = ranks
        effect = effect_of(cap_b > cap_a or def_b > def_a, cap_b < cap_a or def_b < def_a)
        name = key_label(key)
        if area.config:
            text = f"managed default `{name}`: {arrow(old, new)}"
            if new is None:
                text += " (each user may now choose)"
        else:
            text = f"`{name}` {arrow(old, new)}"
        if effect == NEUTRAL:
            text += " (same effect)"
        return [change_at(area, key, effect, text, old, new)]


@dataclass(frozen=True)
class Verdict(Kind):
    """A domain or socket pattern's verdict: ``deny`` < unlisted (``none``) < ``allow``."""

    what: str  # "network" | "unix socket"

    def judge(self, area: Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        ranked = Ranked(_VERDICT, unset=1, default="none")
        (change,) = ranked.judge(area, key, old, new)
        if change.effect == LOOSER and "review it" in change.message:
            return [change]
        shown = f"{old or 'unlisted'} -> {new or 'unlisted'}"
        prefix = "managed default " if area.config else ""
        text = f"{prefix}{self.what} {key[-1]}: {shown}"
        if area.config and new is None:
            text += " (each user may now choose)"
        return [Change(change.area, change.key, change.effect, text, old, new)]


BOOL_LOOSE = {False: 0, True: 1}  # true permits more
BOOL_TIGHT = {True: 0, False: 1}  # true restricts
_VERDICT = {"deny": 0, "none": 1, "allow": 2}
# Feature flags whose `true` *restricts* (turning them off loosens); every other known feature
# enables a capability, so its `true` loosens. Unknown features are reviewed.
_TIGHT_FEATURES = frozenset({"exec_policy", "hooks"})
_REVIEW_FEATURES = frozenset({"use_legacy_landlock", "respect_system_proxy"})


class Feature(Kind):
    """A feature flag (config value or requirements pin): direction from its name."""

    def judge(self, area: Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        name = canonical_feature(key[-1])
        if name is None or name in _REVIEW_FEATURES or not _bools(old, new):
            return Review().judge(area, key, old, new)
        order = BOOL_TIGHT if name in _TIGHT_FEATURES else BOOL_LOOSE
        default = KNOWN_FEATURES.get(name)
        # An unset pin leaves the flag to the user: the loosest value is within reach.
        return Ranked(order, default=default).judge(area, key, old, new)


def _bools(*values: Any) -> bool:
    return all(v is None or isinstance(v, bool) for v in values)
