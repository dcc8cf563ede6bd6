"""Requirements: parse each source, check it, and compose the sources per field.

Sources, highest precedence first (Era A of the spec, "first setter per field wins"; an empty
list still counts as set):

1. a remote signed bundle (the seam a later issue plugs in via ``LoadOptions.remote_requirements``)
2. MDM `requirements_toml_base64`
3. `<system dir>/requirements.toml`
4. legacy MDM `config_toml_base64`, reinterpreted
5. legacy `<system dir>/managed_config.toml`, reinterpreted

Every malformed source is fatal with a located error: requirements fail closed.

One field is composed across sources instead (Era B's field-specific merger): managed `[hooks]`
event groups from every source are concatenated, highest precedence first, so an MDM profile and
`requirements.toml` can each push hooks; two sources naming different `hooks.managed_dir` is a
fatal conflict. Unknown keys inside `[hooks]` are located errors (a misspelt event must not make
an admin's hook silently never run).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_admin.config.features import canonical_feature, feature_suggestion
from codex_admin.config.toml_io import parse_toml_text
from codex_admin.config.validation import ConfigValidationError, Issue, issue_at, validate_table
from codex_admin.errors import CodexError
from codex_admin.vocabulary import HookEventName

if TYPE_CHECKING:
    from codex_admin.config.requirements_model import RequirementsToml

__all__ = [
    "REQUIREMENT_FIELDS",
    "EffectiveRequirements",
    "RequirementValue",
    "RequirementsDocument",
    "compose_requirements",
    "legacy_requirements_document",
    "load_requirements_document",
    "parse_requirements",
]


# Fields in the order `codex requirements show` lists them.
REQUIREMENT_FIELDS: tuple[str, ...] = (
    "allowed_approval_policies",
    "allowed_approvals_reviewers",
    "allowed_sandbox_modes",
    "allowed_web_search_modes",
    "remote_sandbox_config",
    "features",
    "mcp_servers",
    "plugins",
    "apps",
    "rules",
    "enforce_residency",
    "experimental_network",
    "permissions",
    "hooks",
    "allow_managed_hooks_only",
    "guardian_policy_config",
    "guardian_extra_policy",
    "allow_guardian_fail_open",
    "computer_use",
    "windows",
    "marketplaces",
    "allowed_permission_profiles",
    "allowed_permissions",
    "default_permissions",
    "forced_login_method",
    "forced_chatgpt_workspace_id",
)


@dataclass(frozen=True)
class RequirementsDocument:
    """One requirements source: its display name (used in every message), text, and file."""

    source: str
    text: str
    path: Path | None = None
    # Non-fatal notes from whoever produced the document (e.g. "using a cached remote bundle
    # within its grace period"); they are reported with the configuration's warnings.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequirementValue:
    """A requirement's value and the source that set it."""

    value: Any
    source: str


@dataclass
class EffectiveRequirements:
    """Composed requirements: each field's value and the source that set it."""

    fields: dict[str, RequirementValue] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def get(self, name: str) -> RequirementValue | None:
        return self.fields.get(name)

    def value(self, name: str) -> Any:
        entry = self.fields.get(name)
        return copy.deepcopy(entry.value) if entry else None

    def source(self, name: str) -> str | None:
        entry = self.fields.get(name)
        return entry.source if entry else None

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def __bool__(self) -> bool:
        return bool(self.fields)

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {
            name: {"value": entry.value, "source": entry.source}
            for name, entry in self.fields.items()
        }


@dataclass
class _Loaded:
    """One requirements source, parsed: its table, per-field sources and warnings."""

    table: dict[str, Any]
    field_sources: dict[str, str]
    warnings: list[str]


def parse_requirements(doc: RequirementsDocument, *, strict: bool = False) -> RequirementsToml:
    """Validate one requirements document (syntax, types, semantics); raise located errors."""
    # The pydantic model is imported only by callers that want one (start-up cost).
    from codex_admin.config.requirements_model import RequirementsToml

    loaded = load_requirements_document(doc, strict=strict)
    return RequirementsToml.model_validate(loaded.table)


def load_requirements_document(
    doc: RequirementsDocument, *, strict: bool = False, hostname: str | None = None
) -> _Loaded:
    """Parse, validate and normalise one document into a TOML-shaped table.

    Unknown keys are errors whatever ``strict`` says (kept for callers): a misspelt
    requirement (`allowed_sandbox_mode`) must not silently leave the machine unconstrained.
    """
    where = doc.source if doc.path is None else str(doc.path)
    table = parse_toml_text(doc.text, where)
    hook_issues = _hook_key_issues(table, where, doc.text)
    if hook_issues:
        raise ConfigValidationError(
            hook_issues, hint="requirements fail closed: fix the requirements source and retry"
        )
    warnings = validate_table("requirements", table, where=where, text=doc.text, unknown="error")
    issues: list[Issue] = []
    field_sources: dict[str, str] = {}

    def fail(message: str, key: Sequence[str | int]) -> None:
        issues.append(issue_at(message, where, doc.text, key))

    _normalise(table, doc, warnings, fail)
    _check_allow_lists(table, doc, fail)
    _check_rules(table, doc, fail)
    _check_network(table, fail)
    if not issues:
        _apply_remote_sandbox(table, doc, field_sources, hostname)
    if issues:
        raise ConfigValidationError(
            issues, hint="requirements fail closed: fix the requirements source and retry"
        )
    return _Loaded(table, field_sources, warnings)


def _normalise(
    table: dict[str, Any], doc: RequirementsDocument, warnings: list[str], fail: Any
) -> None:
    if "feature_requirements" in table:
        if "features" in table:
            fail(
                "set either `features` or its alias `feature_requirements`, not both",
                ["feature_requirements"],
            )
        else:
            table["features"] = table.pop("feature_requirements")
    features = table.get("features")
    if isinstance(features, dict):
        pinned: dict[str, bool] = {}
        for key, value in features.items():
            name = canonical_feature(key)
            if name is None:
                warnings.append(
                    f"Ignoring unknown `features` requirement `{key}` from {doc.source}"
                    f"{feature_suggestion(key)}"
                )
            else:
                pinned[name] = value
        table["features"] = pinned
    reviewers = table.get("allowed_approvals_reviewers")
    if isinstance(reviewers, list):
        table["allowed_approvals_reviewers"] = list(
            dict.fromkeys("auto_review" if r == "guardian_subagent" else r for r in reviewers)
        )
    for key in ("guardian_policy_config", "guardian_extra_policy"):
        policy = table.get(key)
        if isinstance(policy, str) and not policy.strip():
            del table[key]
    deny = table.get("permissions", {}).get("filesystem", {}).get("deny_read")
    if isinstance(deny, list):
        resolved = []
        for index, entry in enumerate(deny):
            path = Path(entry).expanduser()
            if not path.is_absolute():
                if doc.path is None:
                    fail(
                        f"`permissions.filesystem.deny_read` entry {entry!r} must be absolute"
                        " (this source has no directory to resolve it against)",
                        ["permissions", "filesystem", "deny_read", index],
                    )
                    continue
                path = doc.path.parent / path
            # Lexically normal (`/opt/managed/../shared/x` -> `/opt/shared/x`): the sandbox
            # mounts and every message use this one spelling. Lexical, not resolved: the
            # path may not exist here, and a glob is not a path to resolve.
            resolved.append(os.path.normpath(path))
        table["permissions"]["filesystem"]["deny_read"] = list(dict.fromkeys(resolved))


_HOOK_TABLE_KEYS = ("managed_dir", "windows_managed_dir", *(e.value for e in HookEventName))


def _hook_key_issues(table: dict[str, Any], where: str, text: str) -> list[Issue]:
    """Unknown keys in `[hooks]` and a relative `managed_dir` (checked before unknown keys drop)."""
    hooks = table.get("hooks")
    if not isinstance(hooks, dict):
        return []
    issues = []
    for key in hooks:
        if key not in _HOOK_TABLE_KEYS:
            issues.append(
                issue_at(
                    f"unknown key `hooks.{key}` in requirements; expected an event"
                    f" ({', '.join(e.value for e in HookEventName)}) or `managed_dir`",
                    where,
                    text,
                    ["hooks", key],
                )
            )
    managed_dir = hooks.get("managed_dir")
    if isinstance(managed_dir, str) and not Path(managed_dir).is_absolute():
        issues.append(
            issue_at(
                f"`hooks.managed_dir` must be an absolute path (got {managed_dir!r})",
                where,
                text,
                ["hooks", "managed_dir"],
            )
        )
    return issues


def _check_allow_lists(table: dict[str, Any], doc: RequirementsDocument, fail: Any) -> None:
    for name in ("allowed_approval_policies", "allowed_approvals_reviewers"):
        if table.get(name) == []:
            fail(f"field `{name}` cannot be empty", [name])
    modes = table.get("allowed_sandbox_modes")
    if isinstance(modes, list) and "read-only" not in modes:
        fail(
            f"invalid value for `allowed_sandbox_modes`: `{json.dumps(modes)}` must include"
            f" 'read-only' to allow any sandbox policy (set by {doc.source})",
            ["allowed_sandbox_modes"],
        )
    for index, entry in enumerate(table.get("remote_sandbox_config") or []):
        if "read-only" not in entry.get("allowed_sandbox_modes", []):
            fail(
                f"invalid value for `remote_sandbox_config[{index}].allowed_sandbox_modes`:"
                f" must include 'read-only' (set by {doc.source})",
                ["remote_sandbox_config"],
            )


def _check_rules(table: dict[str, Any], doc: RequirementsDocument, fail: Any) -> None:
    rules = table.get("rules")
    if rules is None:
        return
    prefix = f"invalid rules in requirements (set by {doc.source}): "
    key = ["rules", "prefix_rules"]
    entries = rules.get("prefix_rules", [])
    if not entries:
        fail(prefix + "rules prefix_rules cannot be empty", key)
        return
    for index, rule in enumerate(entries):
        where = f"rules prefix_rule at index {index}"
        pattern = rule.get("pattern", [])
        if not pattern:
            fail(prefix + f"{where} has an empty pattern", key)
            continue
        for token_index, token in enumerate(pattern):
            reason = _token_problem(token)
            if reason:
                fail(
                    prefix + f"{where} has an invalid pattern token at index {token_index}:"
                    f" {reason}",
                    key,
                )
        justification = rule.get("justification")
        if justification is not None and not justification.strip():
            fail(prefix + f"{where} has an empty justification", key)
        decision = rule.get("decision")
        if decision is None:
            fail(prefix + f"{where} is missing a decision", key)
        elif decision == "allow":
            fail(
                prefix + f'{where} uses decision "allow", which requirements cannot grant;'
                ' use "prompt" or "forbidden"',
                key,
            )


def _token_problem(token: dict[str, Any]) -> str | None:
    has_token, has_any = "token" in token, "any_of" in token
    if has_token == has_any:
        return "set exactly one of `token` or `any_of`"
    if has_token and not token["token"].strip():
        return "token cannot be blank"
    if has_any:
        if not token["any_of"]:
            return "any_of cannot be empty"
        if any(not member.strip() for member in token["any_of"]):
            return "any_of members cannot be blank"
    return None


def _check_network(table: dict[str, Any], fail: Any) -> None:
    net = table.get("experimental_network")
    if not isinstance(net, dict):
        return
    for legacy in ("allowed_domains", "denied_domains", "allow_unix_sockets"):
        if net.get(legacy) == []:
            del net[legacy]
    key = ["experimental_network"]
    if "domains" in net and ("allowed_domains" in net or "denied_domains" in net):
        fail(
            "`experimental_network.domains` cannot be combined with legacy `allowed_domains`"
            " or `denied_domains`",
            key,
        )
    if "unix_sockets" in net and "allow_unix_sockets" in net:
        fail(
            "`experimental_network.unix_sockets` cannot be combined with legacy"
            " `allow_unix_sockets`",
            key,
        )
    patterns = list((net.get("domains") or {}).items())
    patterns += [(p, "allow") for p in net.get("allowed_domains") or []]
    patterns += [(p, "deny") for p in net.get("denied_domains") or []]
    for pattern, decision in patterns:
        bare = pattern.strip().strip("[]").removeprefix("**.").strip("[]")
        if bare == "*":
            fail(
                f"the global wildcard {pattern!r} is not allowed in a managed"
                f" {'allow' if decision == 'allow' else 'deny'} list; list the domains",
                key,
            )
        elif not pattern.strip():
            fail("empty domain pattern in `experimental_network`", key)


def _apply_remote_sandbox(
    table: dict[str, Any],
    doc: RequirementsDocument,
    field_sources: dict[str, str],
    hostname: str | None,
) -> None:
    """The first `remote_sandbox_config` entry matching this host replaces the source's modes."""
    entries = table.get("remote_sandbox_config")
    if not entries:
        return
    if hostname is None:
        import socket  # only a document with remote_sandbox_config needs the host name

        hostname = socket.gethostname()
    host = hostname.strip().rstrip(".").lower()
    for entry in entries:
        if any(
            fnmatch.fnmatchcase(host, p.strip().rstrip(".").lower())
            for p in entry["hostname_patterns"]
        ):
            table["allowed_sandbox_modes"] = list(entry["allowed_sandbox_modes"])
            field_sources["allowed_sandbox_modes"] = (
                f"{doc.source} (remote_sandbox_config for host {host})"
            )
            return


def legacy_requirements_document(
    config: dict[str, Any], where: str, text: str | None
) -> dict[str, Any]:
    """The requirements a managed config implies (approval_policy, sandbox_mode, reviewer)."""
    out: dict[str, Any] = {}
    issues: list[Issue] = []
    policy = config.get("approval_policy")
    if policy is not None:
        if not isinstance(policy, str | dict):
            issues.append(
                issue_at(
                    "Failed to parse config requirements as TOML: `approval_policy`"
                    " must be a string",
                    where,
                    text,
                    ["approval_policy"],
                )
            )
        else:
            out["allowed_approval_policies"] = [policy]
    mode = config.get("sandbox_mode")
    if mode is not None:
        if not isinstance(mode, str):
            issues.append(
                issue_at(
                    "Failed to parse config requirements as TOML: `sandbox_mode` must be a string",
                    where,
                    text,
                    ["sandbox_mode"],
                )
            )
        else:
            out["allowed_sandbox_modes"] = list(dict.fromkeys(["read-only", mode]))
    reviewer = config.get("approvals_reviewer")
    if isinstance(reviewer, str):
        reviewer = "auto_review" if reviewer == "guardian_subagent" else reviewer
        out["allowed_approvals_reviewers"] = (
            [reviewer, "user"] if reviewer == "auto_review" else [reviewer]
        )
    if issues:
        raise ConfigValidationError(issues)
    return out


def compose_requirements(
    docs: Sequence[RequirementsDocument | tuple[str, dict[str, Any]]],
    *,
    strict: bool = False,
    hostname: str | None = None,
) -> EffectiveRequirements:
    """Combine sources, highest precedence first: the first source that sets a field wins.

    Items are documents (parsed here) or already-parsed ``(source, table)`` pairs (the legacy
    reinterpretation of managed config).
    """
    result = EffectiveRequirements()
    for doc in docs:
        if isinstance(doc, RequirementsDocument):
            loaded = load_requirements_document(doc, strict=strict, hostname=hostname)
            source, table, sources = doc.source, loaded.table, loaded.field_sources
            result.warnings.extend(doc.warnings)
            result.warnings.extend(loaded.warnings)
        else:
            source, table = doc
            sources = {}
        for name in REQUIREMENT_FIELDS:
            if name == "hooks" and name in table and name in result.fields:
                result.fields[name] = _compose_hooks(result.fields[name], table[name], source)
            elif name in table and name not in result.fields:
                result.fields[name] = RequirementValue(
                    copy.deepcopy(table[name]), sources.get(name, source)
                )
    _check_combined(result)
    return result


def _compose_hooks(
    higher: RequirementValue, lower: dict[str, Any], source: str
) -> RequirementValue:
    """Concatenate managed hook groups, higher source first; differing managed dirs conflict."""
    merged = copy.deepcopy(higher.value)
    active = "windows_managed_dir" if sys.platform == "win32" else "managed_dir"
    for key in ("managed_dir", "windows_managed_dir"):
        ours, theirs = merged.get(key), lower.get(key)
        if key == active and ours is not None and theirs is not None and ours != theirs:
            raise CodexError(
                f"failed to compose requirements field `hooks.{key}` between {higher.source}"
                f" and {source}: {ours!r} != {theirs!r}",
                hint=f"set `hooks.{key}` in one requirements source only, or make them agree",
            )
        if ours is None and theirs is not None:
            merged[key] = theirs
    for event in HookEventName:
        groups = lower.get(event.value)
        if groups:
            merged[event.value] = [*merged.get(event.value, []), *copy.deepcopy(groups)]
    return RequirementValue(merged, f"{higher.source} + {source}")


def _check_combined(result: EffectiveRequirements) -> None:
    """`deny_read` forbids unsandboxed modes, whichever source set the allowed modes."""
    deny = (result.value("permissions") or {}).get("filesystem", {}).get("deny_read")
    if not deny:
        return
    modes = result.get("allowed_sandbox_modes")
    allowed = (
        modes.value
        if modes
        else ["read-only", "workspace-write", "danger-full-access", "external-sandbox"]
    )
    narrowed = [m for m in allowed if m not in ("danger-full-access", "external-sandbox")]
    if narrowed != allowed:
        source = result.source("permissions") or "requirements"
        result.fields["allowed_sandbox_modes"] = RequirementValue(
            narrowed,
            f"{modes.source} + permissions.filesystem.deny_read ({source})"
            if modes
            else f"permissions.filesystem.deny_read ({source})",
        )
