"""What a policy change does, in a reviewer's words: tighter, looser or neutral.

Inputs are plain TOML-shaped data: the *effective* requirements of each side (field -> value, as
composed by the config engine, so a legacy ``approval_policy`` in managed config counts), the
managed config table, and the ``*.rules`` files. Every change gets an ``effect``:

* ``tighter`` -- something that was allowed no longer is (an allowed set shrinks, a rule is added
  or made stricter, a denied domain is added, a restriction appears);
* ``looser``  -- the opposite, *and* any change this module cannot classify: a CI gate that
  wants a second approver for loosening must not be bypassed by an unfamiliar field;
* ``neutral`` -- reordering, ports, justifications, plain config values.

``loosens`` is true when at least one change is looser; the CLI turns that into exit code 3.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from codex_admin.vocabulary import ApprovalPolicy, SandboxMode

__all__ = ["Change", "PolicyDiff", "diff_policy"]

TIGHTER, LOOSER, NEUTRAL = "tighter", "looser", "neutral"

_ALLOW_LISTS = (
    "allowed_approval_policies",
    "allowed_approvals_reviewers",
    "allowed_sandbox_modes",
    "allowed_web_search_modes",
    "allowed_permissions",
    "allowed_permission_profiles",
)
_NAMED_ALLOWLISTS = ("mcp_servers", "plugins")
# Booleans under experimental_network whose `true` widens what may happen.
_NET_LOOSE_WHEN_TRUE = (
    "allow_upstream_proxy",
    "allow_local_binding",
    "dangerously_allow_non_loopback_proxy",
    "dangerously_allow_non_loopback_admin",
    "dangerously_allow_all_unix_sockets",
)
_NET_TIGHT_WHEN_TRUE = ("enabled", "managed_allowed_domains_only")
_NET_NEUTRAL = ("http_port", "socks_port")
_TOP_LOOSE_WHEN_TRUE = ("allow_guardian_fail_open",)
_TOP_TIGHT_WHEN_TRUE = ("allow_managed_hooks_only",)
_DECISION_RANK = {"allow": 0, "prompt": 1, "forbidden": 2}
_APPROVAL_RANK = {p.value: p.rank for p in ApprovalPolicy}
_SANDBOX_RANK = {m.value: m.rank for m in SandboxMode}


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
    for name in sorted(set(old_requirements) | set(new_requirements)):
        old, new = old_requirements.get(name), new_requirements.get(name)
        if old != new:
            out.changes.extend(_requirement(name, old, new))
    out.changes.extend(_config(old_config, new_config))
    out.changes.extend((rules_differ or _rules_files)(old_rules, new_rules))
    return out


# --------------------------------------------------------------------------------- requirements


def _canon(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _requirement(name: str, old: Any, new: Any) -> list[Change]:
    if name in _ALLOW_LISTS:
        return _allow_list(name, old, new)
    if name == "windows":
        return _windows(old or {}, new or {})
    if name == "rules":
        return _prefix_rules(old, new)
    if name == "experimental_network":
        return _network(old, new)
    if name in _NAMED_ALLOWLISTS:
        return _named_allowlist(name, old, new)
    if name == "permissions":
        return _permissions(old or {}, new or {})
    if name in _TOP_LOOSE_WHEN_TRUE or name in _TOP_TIGHT_WHEN_TRUE:
        return [_flag("requirements", name, old, new, loose_when_true=name in _TOP_LOOSE_WHEN_TRUE)]
    return [_generic("requirements", name, old, new)]


def _generic(area: str, key: str, old: Any, new: Any) -> Change:
    """Requirements only restrict: appearing tightens, disappearing loosens, else review."""
    if old is None:
        return Change(area, key, TIGHTER, f"`{key}` is now required: {_show(new)}", old, new)
    if new is None:
        return Change(area, key, LOOSER, f"`{key}` requirement removed", old, new)
    return Change(
        area,
        key,
        LOOSER,
        f"`{key}` changed from {_show(old)} to {_show(new)} (unclassified change; review it)",
        old,
        new,
    )


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _flag(area: str, key: str, old: Any, new: Any, *, loose_when_true: bool) -> Change:
    before, after = bool(old), bool(new)
    if before == after:
        return Change(area, key, NEUTRAL, f"`{key}` spelled differently, same meaning", old, new)
    looser = after if loose_when_true else not after
    return Change(
        area, key, LOOSER if looser else TIGHTER, f"`{key}` {before} -> {after}", old, new
    )


def _members(value: Any) -> list[str]:
    if isinstance(value, dict):  # allowed_permission_profiles as a name -> bool table
        return [name for name, on in value.items() if on]
    return [_canon(v) for v in value] if isinstance(value, list) else [_canon(value)]


def _allow_list(key: str, old: Any, new: Any, area: str = "requirements") -> list[Change]:
    if old is None:
        return [Change(area, key, TIGHTER, f"`{key}` now restricted to {_show(new)}", old, new)]
    if new is None:
        return [Change(area, key, LOOSER, f"`{key}` restriction removed", old, new)]
    before, after = _members(old), _members(new)
    added = [m for m in after if m not in before]
    removed = [m for m in before if m not in after]
    changes = []
    if added:
        changes.append(
            Change(area, key, LOOSER, f"`{key}` grows: + {', + '.join(added)}", old, new)
        )
    if removed:
        changes.append(
            Change(area, key, TIGHTER, f"`{key}` shrinks: - {', - '.join(removed)}", old, new)
        )
    if not changes:
        first = f"{before[0] if before else None} -> {after[0] if after else None}"
        changes.append(
            Change(area, key, NEUTRAL, f"`{key}` reordered (default/fallback {first})", old, new)
        )
    return changes


def _windows(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    changes = []
    for sub in sorted(set(old) | set(new)):
        if old.get(sub) == new.get(sub):
            continue
        key = f"windows.{sub}"
        if sub.startswith("allowed_"):
            changes += _allow_list(key, old.get(sub), new.get(sub))
        else:
            changes.append(_generic("requirements", key, old.get(sub), new.get(sub)))
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


def _prefix_rules(old: Any, new: Any) -> list[Change]:
    def index(value: Any) -> dict[str, Mapping[str, Any]]:
        rules = (value or {}).get("prefix_rules") or []
        return {_rule_key(r): r for r in rules if isinstance(r, dict)}

    before, after = index(old), index(new)
    changes = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        label = f"rules `{key}`"
        if a is None and b is not None:
            changes.append(
                Change("requirements", "rules", TIGHTER, f"{label} added ({b.get('decision')})")
            )
        elif b is None and a is not None:
            changes.append(
                Change("requirements", "rules", LOOSER, f"{label} removed ({a.get('decision')})")
            )
        elif a is not None and b is not None:
            ra = _DECISION_RANK.get(str(a.get("decision")), 3)
            rb = _DECISION_RANK.get(str(b.get("decision")), 3)
            effect = TIGHTER if rb > ra else LOOSER if rb < ra else NEUTRAL
            what = (
                f"decision {a.get('decision')} -> {b.get('decision')}"
                if ra != rb
                else "justification changed"
            )
            changes.append(Change("requirements", "rules", effect, f"{label}: {what}"))
    return changes


def _domains(table: Mapping[str, Any], key: str, legacy: tuple[str, str]) -> dict[str, str]:
    """Keyed form (``domains = {pattern = "allow"}``) from either spelling."""
    keyed = dict(table.get(key) or {})
    for name in table.get(legacy[0]) or []:
        keyed.setdefault(name, "allow")
    for name in table.get(legacy[1]) or []:
        keyed[name] = "deny" if key == "domains" else "none"
    return {str(k): str(v) for k, v in keyed.items()}


def _network(old: Any, new: Any) -> list[Change]:
    key = "experimental_network"
    if old is None:
        return [Change("requirements", key, TIGHTER, "managed network policy introduced", old, new)]
    if new is None:
        return [Change("requirements", key, LOOSER, "managed network policy removed", old, new)]
    changes = []
    for flag in (*_NET_LOOSE_WHEN_TRUE, *_NET_TIGHT_WHEN_TRUE):
        if bool(old.get(flag)) != bool(new.get(flag)):
            changes.append(
                _flag(
                    "requirements",
                    f"{key}.{flag}",
                    old.get(flag),
                    new.get(flag),
                    loose_when_true=flag in _NET_LOOSE_WHEN_TRUE,
                )
            )
    for port in _NET_NEUTRAL:
        if old.get(port) != new.get(port):
            msg = f"`{key}.{port}` {old.get(port)} -> {new.get(port)}"
            changes.append(Change("requirements", f"{key}.{port}", NEUTRAL, msg))
    for sub, legacy, open_word in (
        ("domains", ("allowed_domains", "denied_domains"), "allow"),
        ("unix_sockets", ("allow_unix_sockets", "_none"), "allow"),
    ):
        before, after = _domains(old, sub, legacy), _domains(new, sub, legacy)
        for name in sorted(set(before) | set(after)):
            a, b = before.get(name), after.get(name)
            if a == b:
                continue
            opened = b == open_word
            closed = a == open_word
            effect = LOOSER if opened else TIGHTER if (closed or b is not None) else LOOSER
            what = f"{a or 'unlisted'} -> {b or 'unlisted'}"
            changes.append(
                Change("requirements", f"{key}.{sub}", effect, f"network {name}: {what}")
            )
    known = {
        *_NET_LOOSE_WHEN_TRUE,
        *_NET_TIGHT_WHEN_TRUE,
        *_NET_NEUTRAL,
        "domains",
        "allowed_domains",
        "denied_domains",
        "unix_sockets",
        "allow_unix_sockets",
    }
    for other in sorted((set(old) | set(new)) - known):
        if old.get(other) != new.get(other):
            changes.append(
                _generic("requirements", f"{key}.{other}", old.get(other), new.get(other))
            )
    return changes


def _named_allowlist(key: str, old: Any, new: Any) -> list[Change]:
    if old is None:
        names = ", ".join(sorted(new or {})) or "nothing"
        return [Change("requirements", key, TIGHTER, f"`{key}` now restricted to: {names}")]
    if new is None:
        return [Change("requirements", key, LOOSER, f"`{key}` allow-list removed (any allowed)")]
    changes = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if a is None:
            changes.append(
                Change("requirements", key, LOOSER, f"`{key}`: {name} now allowed", a, b)
            )
        elif b is None:
            changes.append(
                Change("requirements", key, TIGHTER, f"`{key}`: {name} no longer allowed", a, b)
            )
        else:
            changes.append(
                Change(
                    "requirements",
                    key,
                    LOOSER,
                    f"`{key}`: {name} identity changed {_show(a)} -> {_show(b)}",
                    a,
                    b,
                )
            )
    return changes


def _permissions(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    changes = []
    before = list(((old.get("filesystem") or {}).get("deny_read")) or [])
    after = list(((new.get("filesystem") or {}).get("deny_read")) or [])
    key = "permissions.filesystem.deny_read"
    for path in after:
        if path not in before:
            changes.append(Change("requirements", key, TIGHTER, f"reads of {path} now denied"))
    for path in before:
        if path not in after:
            changes.append(Change("requirements", key, LOOSER, f"reads of {path} allowed again"))
    rest_old = {k: v for k, v in old.items() if k != "filesystem"}
    rest_new = {k: v for k, v in new.items() if k != "filesystem"}
    fs_old = {k: v for k, v in (old.get("filesystem") or {}).items() if k != "deny_read"}
    fs_new = {k: v for k, v in (new.get("filesystem") or {}).items() if k != "deny_read"}
    if fs_old != fs_new:
        changes.append(
            _generic("requirements", "permissions.filesystem", fs_old or None, fs_new or None)
        )
    for name in sorted(set(rest_old) | set(rest_new)):
        if rest_old.get(name) != rest_new.get(name):
            changes.append(
                _generic(
                    "requirements", f"permissions.{name}", rest_old.get(name), rest_new.get(name)
                )
            )
    return changes


# ---------------------------------------------------------------------------------------- config


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def _config(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    before, after = _flatten(old), _flatten(new)
    changes = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        effect = NEUTRAL
        ranks = {"approval_policy": _APPROVAL_RANK, "sandbox_mode": _SANDBOX_RANK}.get(key)
        if ranks is not None:
            ra = ranks.get(str(a), -1) if a is not None else 99
            rb = ranks.get(str(b), -1) if b is not None else 99
            effect = LOOSER if rb > ra else TIGHTER if rb < ra else NEUTRAL
        elif key == "sandbox_workspace_write.network_access":
            effect = LOOSER if b else TIGHTER
        text = f"managed default `{key}`: {_show(a) if a is not None else 'unset'} -> "
        text += _show(b) if b is not None else "unset"
        changes.append(Change("config", key, effect, text, a, b))
    return changes


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
