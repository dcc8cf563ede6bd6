"""The deterministic tier's rule table: data (TOML), validated once, each rule with a reason.

The shipped table is ``rules.toml`` beside this module (also at ``policies/guardian/rules.toml``
in the repository). Format::

    version = 1

    [sets]                       # named lists; a rule refers to one as "@name"
    metadata_hosts = ["169.254.169.254/32", "metadata.google.internal"]

    [[rule]]
    id = "cloud-metadata"        # unique; [a-z0-9-]; named in every decision it makes
    kind = "host"                # one of KINDS (the matcher, implemented in deterministic.py)
    decision = "deny"            # fixed by the kind: allow kinds are read_only, workspace_patch
    risk = "critical"            # low | medium | high | critical
    actions = ["shell"]          # optional: narrow the action types the kind applies to
    reason = "..."               # required: the rationale the agent and the audit log see
    hosts = ["@metadata_hosts"]  # the kind's parameters (see KINDS)

Order matters only for naming: every deny rule is tried before any allow rule, and the first
matching deny names the decision. A malformed table is an error with ``path:line:col`` (fail
closed: the guardian does not run on a table it cannot read).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from codex_admin.errors import CodexError
from codex_admin.guardian.hosts import HostSet
from codex_admin.guardian.request import ActionKind
from codex_admin.guardian.tomlfile import Table, TomlDoc
from codex_admin.guardian.verdict import Outcome, RiskLevel

__all__ = ["KINDS", "Rule", "RuleTable", "builtin_rules", "load_rules", "parse_rules"]

_SHELL = ActionKind.SHELL
_PATCH = ActionKind.APPLY_PATCH
_NET = ActionKind.NETWORK_ACCESS


@dataclass(frozen=True)
class _Kind:
    decision: Outcome
    actions: tuple[ActionKind, ...]
    lists: tuple[str, ...] = ()  # list-of-string parameters (may use @sets)
    regexes: tuple[str, ...] = ()  # list-of-regex parameters
    ints: tuple[str, ...] = ()
    bools: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()  # list of lists of strings
    required: tuple[str, ...] = ()
    doc: str = ""


KINDS: dict[str, _Kind] = {
    "host": _Kind(
        Outcome.DENY, (_SHELL, _NET), lists=("hosts",), required=("hosts",),
        doc="the action names a host in `hosts` (names, *.suffix, CIDR; every IP spelling)",
    ),
    "secret_egress": _Kind(
        Outcome.DENY, (_SHELL, _NET),
        lists=("secrets", "secret_env", "env_dumps", "senders", "sender_subcommands",
               "auth_options", "trusted_hosts"),
        required=("secrets", "senders"),
        doc="secret material (`secrets` paths, `secret_env` variables, `env_dumps`) and a "
        "network sender in one command line, to a host not in `trusted_hosts`",
    ),
    "untrusted_upload": _Kind(
        Outcome.DENY, (_SHELL, _NET),
        lists=("upload_flags", "upload_methods", "upload_programs"),
        required=("upload_flags", "upload_programs"),
        doc="an upload to a host that only untrusted transcript entries (tool output, the "
        "assistant) mention and no user or developer message does",
    ),
    "delete": _Kind(
        Outcome.DENY, (_SHELL,), lists=("protected",), bools=("home_ancestors", "git_dirs"),
        required=("protected",),
        doc="recursive deletion (rm -r, find -delete) of a `protected` path, an ancestor of "
        "the home directory, or a repository's .git directory",
    ),
    "command": _Kind(
        Outcome.DENY, (_SHELL,), lists=("program", "subcommand", "not_args"), groups=("args",),
        required=("program",),
        doc="a command whose program is in `program`, subcommand in `subcommand`, with an "
        "argument matching each glob group of `args` and none of `not_args`",
    ),
    "writes": _Kind(
        Outcome.DENY, (_SHELL, _PATCH), lists=("paths",), required=("paths",),
        doc="a write (patch file, redirect, tee, cp/mv/install/ln target, sed -i, ...) to `paths`",
    ),
    "mentions": _Kind(
        Outcome.DENY, (_SHELL,), lists=("paths",), required=("paths",),
        doc="any argument resolves to one of `paths`",
    ),
    "startup_fetch": _Kind(
        Outcome.DENY, (_SHELL, _PATCH), lists=("paths", "programs"), regexes=("payload",),
        required=("paths", "payload"),
        doc="a write to a start-up file (`paths`) or a scheduler (`programs`) whose payload "
        "fetches code (`payload` regexes)",
    ),
    "pattern": _Kind(
        Outcome.DENY, (_SHELL, _PATCH), regexes=("patterns",), required=("patterns",),
        doc="the command line (or a patch's added lines) matches a regex in `patterns`",
    ),
    "read_only": _Kind(
        Outcome.ALLOW, (_SHELL,), lists=("exclude_paths", "exclude_env"),
        doc="a plain, literal script of execpolicy known-safe read-only commands, no opaque "
        "part, touching none of `exclude_paths` / `exclude_env` (nor the unreadable paths)",
    ),
    "workspace_patch": _Kind(
        Outcome.ALLOW, (_PATCH,), lists=("exclude",), ints=("max_files", "max_bytes"),
        bools=("require_user_message",),
        doc="a patch whose files all resolve inside the workspace roots, none under `exclude`, "
        "at most `max_files` files and `max_bytes` bytes (and a user message in the transcript)",
    ),
}  # fmt: skip

_ID = re.compile(r"^[a-z0-9][a-z0-9\-]{0,63}$")
_BASE_KEYS = ("id", "kind", "decision", "risk", "actions", "reason")


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    decision: Outcome
    risk: RiskLevel
    reason: str
    actions: tuple[ActionKind, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    hosts: HostSet = field(default_factory=HostSet)  # `hosts` / `trusted_hosts`, compiled
    regexes: tuple[re.Pattern[str], ...] = ()

    def strings(self, name: str) -> tuple[str, ...]:
        value = self.params.get(name)
        return tuple(value) if value else ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "decision": self.decision.value,
            "risk": self.risk.value,
            "actions": [a.value for a in self.actions],
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RuleTable:
    source: str
    rules: tuple[Rule, ...]

    @property
    def deny_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.decision is Outcome.DENY)

    @property
    def allow_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.decision is Outcome.ALLOW)

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def _expand(values: list[str], sets: Mapping[str, list[str]], table: Table, key: str) -> list[str]:
    out: list[str] = []
    for value in values:
        if value.startswith("@"):
            name = value[1:]
            if name not in sets:
                known = ", ".join(sorted(sets)) or "none"
                raise table.fail(key, f"refers to unknown set {value!r}", f"sets: {known}")
            out.extend(sets[name])
        else:
            out.append(value)
    return out


def parse_rules(doc: TomlDoc) -> RuleTable:
    """Validate a parsed rule table (see the module docstring)."""
    top = Table(doc, doc.data, array=None, index=None)
    top.only(("version", "sets", "rule"))
    version = top.integer("version", minimum=1)
    if version != 1:
        raise top.fail("version", "must be 1", "this codex-admin reads rule table version 1")
    sets_table = Table(doc, doc.data.get("sets", {}), array=None, index=None, prefix="sets.")
    sets: dict[str, list[str]] = {}
    for name in sets_table.data:
        values = sets_table.strings(str(name))
        sets[str(name)] = values or []
    raw_rules = doc.data.get("rule", [])
    if not isinstance(raw_rules, list) or not raw_rules:
        raise top.fail("rule", "must be a non-empty array of [[rule]] tables")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        table = Table(doc, raw, array="rule", index=index)
        kind_name = table.required("kind", choices=tuple(KINDS))
        kind = KINDS[kind_name]
        table.only((*_BASE_KEYS, *kind.lists, *kind.regexes, *kind.ints, *kind.bools, *kind.groups))
        rule_id = table.text("id", required=True) or ""
        if not _ID.match(rule_id):
            raise table.fail("id", f"{rule_id!r} must be lower-case letters, digits and dashes")
        if rule_id in seen:
            raise table.fail("id", f"{rule_id!r} is used by an earlier rule")
        seen.add(rule_id)
        decision = Outcome(table.required("decision", choices=("allow", "deny")))
        if decision is not kind.decision:
            raise table.fail(
                "decision",
                f"must be {kind.decision.value!r} for kind {kind_name!r}",
                "allow kinds: read_only, workspace_patch; every other kind denies",
            )
        risk = RiskLevel(table.required("risk", choices=tuple(r.value for r in RiskLevel)))
        if decision is Outcome.ALLOW and risk is not RiskLevel.LOW:
            raise table.fail("risk", "must be low for an allow rule")
        if decision is Outcome.DENY and risk in (RiskLevel.LOW, RiskLevel.MEDIUM):
            raise table.fail("risk", "must be high or critical for a deny rule")
        reason = (table.text("reason", required=True) or "").strip()
        if not reason:
            raise table.fail("reason", "must say why the rule decides")
        actions_raw = table.strings("actions")
        actions = kind.actions
        if actions_raw is not None:
            chosen: list[ActionKind] = []
            for name in actions_raw:
                if name not in [a.value for a in kind.actions]:
                    supported = ", ".join(a.value for a in kind.actions)
                    raise table.fail("actions", f"kind {kind_name!r} supports only {supported}")
                chosen.append(ActionKind(name))
            actions = tuple(chosen)
        params: dict[str, Any] = {}
        for key in kind.required:
            if key not in table.data:
                raise table.fail(key, f"is required for kind {kind_name!r}")
        for key in kind.lists:
            values = table.strings(key)
            if values is not None:
                params[key] = tuple(_expand(values, sets, table, key))
        compiled: list[re.Pattern[str]] = []
        for key in kind.regexes:
            values = table.strings(key)
            for value in _expand(values or [], sets, table, key):
                try:
                    compiled.append(re.compile(value))
                except re.error as err:
                    raise table.fail(key, f"has an invalid regex {value!r}: {err}") from None
        for key in kind.ints:
            number = table.integer(key, minimum=1)
            if number is not None:
                params[key] = number
        for key in kind.bools:
            flag = table.flag(key)
            if flag is not None:
                params[key] = flag
        for key in kind.groups:
            groups = table.data.get(key)
            if groups is None:
                continue
            if not isinstance(groups, list) or not all(
                isinstance(g, list) and g and all(isinstance(v, str) for v in g) for g in groups
            ):
                raise table.fail(key, "must be a list of non-empty lists of globs")
            params[key] = tuple(tuple(_expand(list(g), sets, table, key)) for g in groups)
        host_key = "hosts" if kind_name == "host" else "trusted_hosts"
        try:
            hosts = HostSet.build(params.get(host_key, ()))
        except ValueError as err:
            raise table.fail(host_key, str(err)) from None
        rules.append(
            Rule(
                rule_id, kind_name, decision, risk, reason, actions, params, hosts, tuple(compiled)
            )
        )
    return RuleTable(doc.where, tuple(rules))


def load_rules(path: Path) -> RuleTable:
    """A rule table file (an organisation's own, or a copy of the shipped one)."""
    return parse_rules(TomlDoc.read(path, what="guardian rule table"))


@lru_cache(maxsize=1)
def builtin_rules() -> RuleTable:
    """The shipped table (``rules.toml`` in this package), parsed once per process."""
    resource = resources.files("codex_admin.guardian").joinpath("rules.toml")
    try:
        text = resource.read_text(encoding="utf-8")
    except OSError as err:
        raise CodexError(
            f"the shipped guardian rule table cannot be read: {err}",
            hint="reinstall codex-admin (the package data codex_admin/guardian/rules.toml)",
        ) from None
    return parse_rules(TomlDoc.parse(text, "codex_admin/guardian/rules.toml"))
