"""What a policy change does, in a reviewer's words: tighter, looser or neutral.

Inputs are plain TOML-shaped data: the *effective* requirements of each side (field -> value, as
composed by the config engine, so a legacy ``approval_policy`` in managed config counts), the
managed config table, and the ``*.rules`` files. ``loosens`` is true when at least one change is
``looser``; the CLI turns that into exit code 3.

Every field is judged by the rule of its *kind* (the tables in :mod:`.diff_tables`), never by a
special case that forgets its neighbours:

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

Modules: :mod:`.changes` (the result and its spelling), :mod:`.diff_engine` (the walk),
:mod:`.diff_kinds` (single values) and :mod:`.diff_collections` (sets, allow-lists, rules, the
managed network), :mod:`.diff_tables` (each field's kind); this one composes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from codex_admin.managed.changes import LOOSER, Change, PolicyDiff, RulesDiffer
from codex_admin.managed.diff_engine import Area, walk
from codex_admin.managed.diff_kinds import Neutral, Review
from codex_admin.managed.diff_tables import CONFIG, REQUIREMENTS

__all__ = ["diff_policy"]


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
    out.changes += walk(
        Area("requirements", REQUIREMENTS, Review(), config=False),
        (),
        _normalise(old_requirements, "experimental_network"),
        _normalise(new_requirements, "experimental_network"),
    )
    out.changes += walk(
        Area("config", CONFIG, Neutral(), config=True),
        (),
        _normalise(old_config, "network"),
        _normalise(new_config, "network"),
    )
    out.changes += (rules_differ or _rules_files)(old_rules, new_rules)
    return out


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
