"""What a policy change does, in a reviewer's words: tighter, looser or neutral.

Inputs are plain TOML-shaped data: the *effective* requirements of each side (field -> value, as
composed by the config engine, so a legacy ``approval_policy`` in managed config counts), the
managed config table, and the ``*.rules`` files. ``loosens`` is true when at least one change is
``looser``; the CLI turns that into exit code 3.

Every field is judged by the rule of its *kind* (the tables ``_REQUIREMENTS`` and ``_CONFIG``),
never by a special case that forgets its neighbours:

* **Unset is a value.** An unset requirement restricts nothing. A value in managed config pins
  every user (managed config outranks user and project config); unset lets each user choose,
  so its *capability* is the loosest value while its *default* is Codex's. A change loosens when
  it loosens either: ``network_access`` ``false`` -> unset loosens (users may turn it on), unset
  -> ``true`` loosens (everyone now has it by default).
* **Ranked values** -- approval policy, reviewer (``user`` < ``auto_review``), sandbox mode, web
  search (``disabled`` < ``cached`` < ``live``), network mode (``limited`` < ``full``), domain and
  socket verdicts (``deny`` < unlisted < ``allow``), ``shell_environment_policy.inherit`` -- and
  **booleans with a direction** (``false`` forbids in ``experimental_network``; ``enabled =
  false`` switches the managed network off; ``managed_allowed_domains_only``, feature flags ...):
  moving towards the loose end is looser.
* **Sets**: allow-lists and ``writable_roots`` loosen when they grow, deny-lists (``deny_read``,
  denied domains, ``exclude``, managed hooks) when they shrink. Reordering an allow-list whose
  first entry is the fallback (approval policies, reviewers) ranks that fallback.
* **Rules** (requirements ``prefix_rules`` here, ``*.rules`` files in :mod:`.rules_diff`): per
  pattern the *strictest* of its rules counts (duplicates included), then its reviewer.
* **Pinned values** (``enforce_residency``, ``forced_login_method`` ...): appearing tightens,
  disappearing loosens, any other change needs review.
* **Review**: text policies, environment variables forced into every command
  (``shell_environment_policy.set``), MCP servers, model providers, hooks, telemetry -- and any
  requirement this module does not know: every change is ``looser`` so that a CI gate asking a
  second approver for loosening cannot be bypassed by an unfamiliar field.
* **Neutral**: ports, model names and other plain config values.

Values in messages are spelled as in TOML (``true``, ``"on-request"``, ``["a", "b"]``; unset
is ``unset``).
"""

from __future__ import annotations

import fnmatch
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from codex_admin.config import KNOWN_FEATURES, canonical_feature, format_key
from codex_admin.vocabulary import ApprovalPolicy, SandboxMode

__all__ = ["Change", "PolicyDiff", "diff_policy", "toml_text"]

TIGHTER, LOOSER, NEUTRAL = "tighter", "looser", "neutral"

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class Change:
    """One reviewer-facing statement about the change."""

    area: str  # requirements | config | rules
    key: str
    effect: str  # tighter | looser | neutral
    message: str
    old: Any = None
    new: Any = None

    def to_json(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "key": self.key,
            "effect": self.effect,
            "message": self.message,
            "old": self.old,
            "new": self.new,
        }


@dataclass
class PolicyDiff:
    changes: list[Change] = field(default_factory=list)

    @property
    def loosens(self) -> bool:
        return any(c.effect == LOOSER for c in self.changes)

    def count(self, effect: str) -> int:
        return sum(1 for c in self.changes if c.effect == effect)

    def to_json(self) -> dict[str, Any]:
        return {
            "loosens": self.loosens,
            "summary": {e: self.count(e) for e in (TIGHTER, LOOSER, NEUTRAL)},
            "changes": [c.to_json() for c in self.changes],
        }


RulesDiffer = Callable[[Mapping[str, str], Mapping[str, str]], list[Change]]


def diff_policy(
    old_requirements: Mapping[str, Any],
    new_requirements: Mapping[str, Any],
    old_config: Mapping[str, Any],
    new_config: Mapping[str, Any],
    old_rules: Mapping[str, str],
    new_rules: Mapping[str, str],
    *,
    rules_differ: RulesDiffer | None = None,
) -> PolicyDiff:
    """Compare two policies; ``rules_differ`` classifies ``*.rules`` changes rule by rule."""
    out = PolicyDiff()
    out.changes += _walk(
        _Area("requirements", _REQUIREMENTS, _Review(), config=False),
        (),
        _normalise(old_requirements, "experimental_network"),
        _normalise(new_requirements, "experimental_network"),
    )
    out.changes += _walk(
        _Area("config", _CONFIG, _Neutral(), config=True),
        (),
        _normalise(old_config, "network"),
        _normalise(new_config, "network"),
    )
    out.changes += (rules_differ or _rules_files)(old_rules, new_rules)
    return out


# -------------------------------------------------------------------------------------- values


def toml_text(value: Any) -> str:
    """A value as TOML spells it (``unset`` for None): what every message shows."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{format_key([str(k)])} = {toml_text(v)}" for k, v in value.items())
        return "{" + inner + "}" if inner else "{}"
    return json.dumps(str(value))


def _canon(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _normalise(table: Mapping[str, Any], network_key: str) -> dict[str, Any]:
    """The legacy network list spellings folded into the keyed maps, so both compare alike."""
    out = dict(table)
    network = out.get(network_key)
    if not isinstance(network, Mapping):
        return out
    net = dict(network)
    for mapping, allow_key, deny_key in (
        ("domains", "allowed_domains", "denied_domains"),
        ("unix_sockets", "allow_unix_sockets", None),
    ):
        keyed = dict(net.get(mapping) or {}) if isinstance(net.get(mapping), Mapping) else {}
        for name in _as_list(net.pop(allow_key, None)):
            keyed.setdefault(str(name), "allow")
        for name in _as_list(net.pop(deny_key, None)) if deny_key else []:
            keyed[str(name)] = "deny"  # deny wins, as in the proxy
        if keyed:
            net[mapping] = keyed
    out[network_key] = net
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# ---------------------------------------------------------------------------------------- kinds


@dataclass(frozen=True)
class _Area:
    name: str
    rules: tuple[tuple[KeyPath, _Kind], ...]
    fallback: _Kind
    config: bool  # managed config (unset = users choose) vs requirements (unset = no limit)

    def kind(self, path: KeyPath) -> _Kind | None:
        for pattern, kind in self.rules:
            if _matches(pattern, path):
                return kind
        return None


def _matches(pattern: KeyPath, path: KeyPath) -> bool:
    if pattern and pattern[-1] == "**":
        head = pattern[:-1]
        return len(path) >= len(head) and _matches(head, path[: len(head)])
    return len(pattern) == len(path) and all(
        fnmatch.fnmatchcase(part, want) for part, want in zip(path, pattern, strict=True)
    )


class _Kind(ABC):
    """How one kind of field is judged. ``unit`` kinds judge a whole table themselves."""

    unit = False

    @abstractmethod
    def judge(self, area: _Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        """The changes between ``old`` and ``new`` (never equal) at ``key``."""


def _label(key: KeyPath) -> str:
    return format_key(list(key))


def _change(area: _Area, key: KeyPath, effect: str, message: str, old: Any, new: Any) -> Change:
    return Change(area.name, _label(key), effect, message, old, new)


def _arrow(old: Any, new: Any) -> str:
    return f"{toml_text(old)} -> {toml_text(new)}"


class _Neutral(_Kind):
    def judge(self, area: _Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        what = "managed default" if area.config else "requirement"
        return [
            _change(area, key, NEUTRAL, f"{what} `{_label(key)}`: {_arrow(old, new)}", old, new)
        ]


class _Review(_Kind):
    """Any change needs a second look (counts as looser)."""

    def judge(self, area: _Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        what = "managed default" if area.config else "requirement"
        text = f"{what} `{_label(key)}`: {_arrow(old, new)} (unclassified change; review it)"
        return [_change(area, key, LOOSER, text, old, new)]


class _Pinned(_Kind):
    """A requirement that pins one value: appearing tightens, disappearing loosens."""

    def judge(self, area: _Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        name = _label(key)
        if old is None:
            return [
                _change(area, key, TIGHTER, f"`{name}` is now required: {toml_text(new)}", old, new)
            ]
        if new is None:
            return [_change(area, key, LOOSER, f"`{name}` requirement removed", old, new)]
        text = f"`{name}` changed: {_arrow(old, new)} (review it)"
        return [_change(area, key, LOOSER, text, old, new)]


def _effect(looser: bool, tighter: bool) -> str:
    return LOOSER if looser else TIGHTER if tighter else NEUTRAL


@dataclass(frozen=True)
class _Ranked(_Kind):
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

    def judge(self, area: _Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
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
                return _Review().judge(area, key, old, new)
            ranks.append((rank, rank))
        (cap_a, def_a), (cap_b, def_b) = ranks
        effect = _effect(cap_b > cap_a or def_b > def_a, cap_b < cap_a or def_b < def_a)
        name = _label(key)
        if area.config:
            text = f"managed default `{name}`: {_arrow(old, new)}"
            if new is None:
                text += " (each user may now choose)"
        else:
            text = f"`{name}` {_arrow(old, new)}"
        if effect == NEUTRAL:
            text += " (same effect)"
        return [_change(area, key, effect, text, old, new)]


@dataclass(frozen=True)
class _Verdict(_Kind):
    """A domain or socket pattern's verdict: ``deny`` < unlisted (``none``) < ``allow``."""

    what: str  # "network" | "unix socket"

    def judge(self, area: _Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        ranked = _Ranked(_VERDICT, unset=1, default="none")
        (change,) = ranked.judge(area, key, old, new)
        if change.effect == LOOSER and "review it" in change.message:
            return [change]
        shown = f"{old or 'unlisted'} -> {new or 'unlisted'}"
        prefix = "managed default " if area.config else ""
        text = f"{prefix}{self.what} {key[-1]}: {shown}"
        if area.config and new is None:
            text += " (each user may now choose)"
        return [Change(change.area, change.key, change.effect, text, old, new)]


_BOOL_LOOSE = {False: 0, True: 1}  # true permits more
_BOOL_TIGHT = {True: 0, False: 1}  # true restricts
_VERDICT = {"deny": 0, "none": 1, "allow": 2}
_REVIEWER = {"user": 0, "auto_review": 1, "guardian_subagent": 1}
_WEB_SEARCH = {"disabled": 0, "cached": 1, "live": 2}
_NETWORK_MODE = {"limited": 0, "full": 1}
_APPROVAL = {p.value: p.rank for p in ApprovalPolicy}
_SANDBOX = {m.value: m.rank for m in SandboxMode}
# Feature flags whose `true` *restricts* (turning them off loosens); every other known feature
# enables a capability, so its `true` loosens. Unknown features are reviewed.
_TIGHT_FEATURES = frozenset({"exec_policy", "hooks"})
_REVIEW_FEATURES = frozenset({"use_legacy_landlock", "respect_system_proxy"})


class _Feature(_Kind):
    """A feature flag (config value or requirements pin): direction from its name."""

    def judge(self, area: _Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        name = canonical_feature(key[-1])
        if name is None or name in _REVIEW_FEATURES or not _bools(old, new):
            return _Review().judge(area, key, old, new)
        order = _BOOL_TIGHT if name in _TIGHT_FEATURES else _BOOL_LOOSE
        default = KNOWN_FEATURES.get(name)
        # An unset pin leaves the flag to the user: the loosest value is within reach.
        return _Ranked(order, default=default).judge(area, key, old, new)


def _bools(*values: Any) -> bool:
    return all(v is None or isinstance(v, bool) for v in values)


_ALL = None  # an unrestricted set


@dataclass(frozen=True)
class _Members(_Kind):
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

    def judge(self, area: _Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        name = _label(key)
        before, after = self._set(old), self._set(new)
        grew, shrank = _grows(before, after), _grows(after, before)
        if area.config and (old is None or new is None) and self.default is not None:
            d_before = self.default if old is None else before
            d_after = self.default if new is None else after
            grew, shrank = grew or _grows(d_before, d_after), shrank or _grows(d_after, d_before)
        loosening = grew if self.loose_when == "grows" else shrank
        tightening = shrank if self.loose_when == "grows" else grew
        changes: list[Change] = []
        effect = _effect(loosening, tightening)
        if area.config and (old is None or new is None):
            text = f"managed default `{name}`: {_arrow(old, new)}"
            if new is None:
                text += " (each user may now choose)"
            changes.append(_change(area, key, effect, text, old, new))
        elif old is None:
            what = "now restricted to" if self.loose_when == "grows" else "now lists"
            changes.append(
                _change(area, key, effect, f"`{name}` {what} {toml_text(new)}", old, new)
            )
        elif new is None:
            what = "restriction" if self.loose_when == "grows" else "list"
            changes.append(_change(area, key, effect, f"`{name}` {what} removed", old, new))
        elif before is not None and after is not None:
            added, removed = sorted(after - before), sorted(before - after)
            if added:
                text = f"`{name}` grows: + {', + '.join(added)}"
                grow = LOOSER if self.loose_when == "grows" else TIGHTER
                changes.append(_change(area, key, grow, text, old, new))
            if removed:
                text = f"`{name}` shrinks: - {', - '.join(removed)}"
                shrink = TIGHTER if self.loose_when == "grows" else LOOSER
                changes.append(_change(area, key, shrink, text, old, new))
        first_old, first_new = _first(old), _first(new)
        if self.fallback is not None and first_old != first_new and old and new:
            ra, rb = self.fallback.get(str(first_old), 99), self.fallback.get(str(first_new), 99)
            effect = _effect(rb > ra, rb < ra)
            text = f"`{name}` fallback (first entry) {_arrow(first_old, first_new)}"
            changes.append(_change(area, key, effect, text, old, new))
        if not changes:
            changes.append(_change(area, key, NEUTRAL, f"`{name}` reordered", old, new))
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


class _NamedAllowList(_Kind):
    """``mcp_servers`` / ``plugins``: absent = anything allowed, an entry = that one allowed."""

    unit = True

    def judge(self, area: _Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        name = _label(key)
        if old is None:
            names = ", ".join(sorted(new or {})) or "nothing"
            return [_change(area, key, TIGHTER, f"`{name}` now restricted to: {names}", old, new)]
        if new is None:
            text = f"`{name}` allow-list removed (any allowed)"
            return [_change(area, key, LOOSER, text, old, new)]
        changes = []
        for entry in sorted(set(old) | set(new)):
            a, b = old.get(entry), new.get(entry)
            if a == b:
                continue
            if a is None:
                changes.append(_change(area, key, LOOSER, f"`{name}`: {entry} now allowed", a, b))
            elif b is None:
                text = f"`{name}`: {entry} no longer allowed"
                changes.append(_change(area, key, TIGHTER, text, a, b))
            else:
                text = f"`{name}`: {entry} identity changed {toml_text(a)} -> {toml_text(b)}"
                changes.append(_change(area, key, LOOSER, text, a, b))
        return changes


class _ManagedNetwork(_Kind):
    """``experimental_network``: appearing/disappearing as a whole, else key by key."""

    unit = True

    def judge(self, area: _Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
        if old is None:
            return [_change(area, key, TIGHTER, "managed network policy introduced", old, new)]
        if new is None:
            return [_change(area, key, LOOSER, "managed network policy removed", old, new)]
        if not _tables(old, new):
            return _Review().judge(area, key, old, new)
        return _walk_table(area, key, old, new)


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


class _PrefixRules(_Kind):
    """Requirements ``[rules]``: per pattern, the strictest rule decides (duplicates count)."""

    unit = True

    def judge(self, area: _Area, key: KeyPath, old: Any, new: Any) -> list[Change]:
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
                    _change(area, key, effect, f"{label} added ({rule.get('decision')})", None, b)
                )
                continue
            if not b:
                rule = _rule_verdict(a)[2]
                effect = TIGHTER if rule.get("decision") == "allow" else LOOSER
                changes.append(
                    _change(area, key, effect, f"{label} removed ({rule.get('decision')})", a, None)
                )
                continue
            (da, ra, rule_a), (db, rb, rule_b) = _rule_verdict(a), _rule_verdict(b)
            if da != db:
                effect = _effect(db < da, db > da)
                what = f"decision {rule_a.get('decision')} -> {rule_b.get('decision')}"
            elif ra != rb:
                effect = _effect(rb > ra, rb < ra)
                what = f"reviewer {_arrow(rule_a.get('reviewer'), rule_b.get('reviewer'))}"
            elif len(a) != len(b):
                effect, what = NEUTRAL, f"duplicate rules {len(a)} -> {len(b)} (same decision)"
            else:
                effect, what = NEUTRAL, "justification changed"
            changes.append(_change(area, key, effect, f"{label}: {what}", a, b))
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


# ------------------------------------------------------------------------------------- tables

_NET_PERMITS = (  # `false` in requirements forbids; unset or `true` permits
    "allow_upstream_proxy",
    "allow_local_binding",
    "dangerously_allow_non_loopback_proxy",
    "dangerously_allow_non_loopback_admin",
    "dangerously_allow_all_unix_sockets",
    "enable_socks5",
    "enable_socks5_udp",
)

_REQUIREMENTS: tuple[tuple[KeyPath, _Kind], ...] = (
    (("allowed_approval_policies",), _Members("grows", fallback=_APPROVAL)),
    (("allowed_approvals_reviewers",), _Members("grows", fallback=_REVIEWER)),
    (("allowed_sandbox_modes",), _Members("grows")),
    (("allowed_web_search_modes",), _Members("grows")),
    (("allowed_permissions",), _Members("grows")),
    (("allowed_permission_profiles",), _Members("grows")),
    (("marketplaces",), _Members("grows")),
    (("windows", "allowed_*"), _Members("grows")),
    (("features", "*"), _Feature()),
    (("feature_requirements", "*"), _Feature()),
    (("mcp_servers",), _NamedAllowList()),
    (("plugins",), _NamedAllowList()),
    (("apps", "*", "enabled"), _Ranked(_BOOL_LOOSE, unset=1)),
    (
        ("apps", "*", "tools", "*", "approval_mode"),
        _Ranked({"prompt": 0, "approve": 0, "auto": 2}, unset=1),
    ),
    (("rules",), _PrefixRules()),
    (("enforce_residency",), _Pinned()),
    (("default_permissions",), _Pinned()),
    (("forced_login_method",), _Pinned()),
    (("forced_chatgpt_workspace_id",), _Pinned()),
    (("experimental_network",), _ManagedNetwork()),
    (("experimental_network", "enabled"), _Ranked(_BOOL_TIGHT, unset=0)),
    *((("experimental_network", k), _Ranked(_BOOL_LOOSE, unset=1)) for k in _NET_PERMITS),
    (("experimental_network", "danger_full_access_denylist_only"), _Ranked(_BOOL_LOOSE, unset=0)),
    (("experimental_network", "managed_allowed_domains_only"), _Ranked(_BOOL_TIGHT, unset=1)),
    (("experimental_network", "mode"), _Ranked(_NETWORK_MODE, unset=1)),
    (("experimental_network", "domains", "*"), _Verdict("network")),
    (("experimental_network", "unix_sockets", "*"), _Verdict("unix socket")),
    (("experimental_network", "http_port"), _Neutral()),
    (("experimental_network", "socks_port"), _Neutral()),
    (("permissions", "filesystem", "deny_read"), _Members("shrinks")),
    (("hooks", "managed_dir"), _Review()),
    (("hooks", "windows_managed_dir"), _Review()),
    (("hooks", "*"), _Members("shrinks")),
    (("allow_managed_hooks_only",), _Ranked(_BOOL_TIGHT, unset=1)),
    (("allow_guardian_fail_open",), _Ranked(_BOOL_LOOSE, unset=0)),
    (("computer_use", "allow_locked_computer_use"), _Ranked(_BOOL_LOOSE, unset=0)),
)

_CONFIG: tuple[tuple[KeyPath, _Kind], ...] = (
    (("approval_policy",), _Ranked(_APPROVAL, default="on-request")),
    (("approvals_reviewer",), _Ranked(_REVIEWER, default="user")),
    (("sandbox_mode",), _Ranked(_SANDBOX, default="read-only")),
    (("web_search",), _Ranked(_WEB_SEARCH, default="cached")),
    (("tools", "web_search"), _Ranked(_BOOL_LOOSE, default=False)),
    (("features", "*"), _Feature()),
    (("sandbox_workspace_write", "network_access"), _Ranked(_BOOL_LOOSE, default=False)),
    (("sandbox_workspace_write", "writable_roots"), _Members("grows", default=frozenset())),
    (("sandbox_workspace_write", "exclude_tmpdir_env_var"), _Ranked(_BOOL_TIGHT, default=False)),
    (("sandbox_workspace_write", "exclude_slash_tmp"), _Ranked(_BOOL_TIGHT, default=False)),
    (
        ("shell_environment_policy", "inherit"),
        _Ranked({"none": 0, "core": 1, "all": 2}, default="all"),
    ),
    (("shell_environment_policy", "ignore_default_excludes"), _Ranked(_BOOL_LOOSE, default=False)),
    (("shell_environment_policy", "exclude"), _Members("shrinks", default=frozenset())),
    (("shell_environment_policy", "include_only"), _Members("grows")),
    (("shell_environment_policy", "**"), _Review()),  # `set`: variables forced into commands
    (("network", "mode"), _Ranked(_NETWORK_MODE, default="full")),
    (("network", "domains", "*"), _Verdict("network")),
    (("network", "unix_sockets", "*"), _Verdict("unix socket")),
    *((("network", k), _Ranked(_BOOL_LOOSE, default=k == "enable_socks5")) for k in _NET_PERMITS),
    (("network", "http_port"), _Neutral()),
    (("network", "socks_port"), _Neutral()),
    (("network", "**"), _Review()),  # enabled, mitm, proxy_url: direction depends on the rest
    (
        ("projects", "*", "trust_level"),
        _Ranked({"untrusted": 0, "trusted": 1}, default="untrusted"),
    ),
    (("allow_login_shell",), _Ranked(_BOOL_LOOSE, default=True)),
    (("forced_login_method",), _Pinned()),
    (("forced_chatgpt_workspace_id",), _Pinned()),
    *(
        ((name, "**"), _Review())
        for name in (
            "mcp_servers",
            "model_providers",
            "model_provider",
            "openai_base_url",
            "chatgpt_base_url",
            "notify",
            "hooks",
            "otel",
            "permissions",
            "default_permissions",
            "windows",
            "projects",
        )
    ),
)


# --------------------------------------------------------------------------------------- walk


def _walk(area: _Area, path: KeyPath, old: Any, new: Any) -> list[Change]:
    """Changes between ``old`` and ``new`` at ``path``: a *unit* kind judges its whole value,
    other tables are compared key by key, and each leaf is judged by its kind (or the area's
    fallback: review for requirements, neutral for config)."""
    if old == new:
        return []
    if area.config and len(path) > 2 and path[0] == "profiles":
        # A profile sets the same keys as the top level: judge them by the same rules.
        return [_reprefix(c, path[:2]) for c in _walk(area, path[2:], old, new)]
    kind = area.kind(path) if path else None
    if kind is not None and kind.unit:
        return kind.judge(area, path, old, new)
    if _tables(old, new):
        return _walk_table(area, path, old or {}, new or {})
    return (kind or area.fallback).judge(area, path, old, new)


def _walk_table(
    area: _Area, path: KeyPath, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(set(old) | set(new), key=str):
        changes += _walk(area, (*path, str(name)), old.get(name), new.get(name))
    return changes


def _tables(*values: Any) -> bool:
    return any(isinstance(v, Mapping) for v in values) and all(
        v is None or isinstance(v, Mapping) for v in values
    )


def _reprefix(change: Change, prefix: KeyPath) -> Change:
    key = _label(prefix) + ("." + change.key if change.key else "")
    message = change.message.replace(f"`{change.key}`", f"`{key}`", 1)
    return Change(change.area, key, change.effect, message, change.old, change.new)


# ----------------------------------------------------------------------------------------- rules


def _rules_files(old: Mapping[str, str], new: Mapping[str, str]) -> list[Change]:
    """File-level fallback when rules cannot be evaluated: every change needs a human."""
    changes = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        state = "added" if a is None else "removed" if b is None else "modified"
        changes.append(
            Change(
                "rules",
                name,
                LOOSER,
                f"rules file {name} {state} (not evaluated rule by rule; review it)",
            )
        )
    return changes
