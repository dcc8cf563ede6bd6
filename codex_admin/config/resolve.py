"""Resolve the values the runtime acts on, then clamp them to the requirements.

Order for each constrained field: dedicated CLI flag > effective config (all layers, profile, `-c`)
> contextual default. A disallowed value falls back to the first allowed value (read-only for the
sandbox) with one warning naming field, rejected value, allowed set and source; an implicit default
that is disallowed is replaced silently. Forcing an explicit danger-full-access down to read-only
while approvals are `never` is fatal: the agent could do nothing useful and nobody could approve.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codex_admin.config.features import KNOWN_FEATURES, canonical_feature
from codex_admin.config.requirements import EffectiveRequirements
from codex_admin.errors import CodexError

__all__ = ["Flags", "Resolution", "resolve_effective"]

DEFAULT_MODEL = "gpt-5-codex"
DEFAULT_OSS_MODEL = "gpt-oss:20b"


@dataclass(frozen=True)
class Flags:
    """Dedicated CLI flags: not a layer; they beat every layer but not the requirements."""

    model: str | None = None
    sandbox: str | None = None
    approval: str | None = None
    full_auto: bool = False
    dangerously_bypass: bool = False
    oss: bool = False

    def check(self) -> None:
        if self.dangerously_bypass and (self.approval or self.full_auto):
            raise CodexError(
                "--dangerously-bypass-approvals-and-sandbox cannot be combined with"
                " -a/--ask-for-approval or --full-auto"
            )


@dataclass
class Resolution:
    """Resolved values with their sources, fallback warnings and fallbacks."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    fallbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    describe: Callable[[str], str] = str


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def resolve_effective(
    config: dict[str, Any],
    origins: dict[str, str],
    requirements: EffectiveRequirements,
    flags: Flags,
    project_trust: str | None,
    describe: Callable[[str], str] = str,
) -> Resolution:
    """Resolve and clamp; ``describe`` turns a layer name into text for warnings."""
    flags.check()
    res = Resolution(describe=describe)

    def candidate(key: str, flag_value: Any, flag_name: str, default: Any) -> tuple[Any, bool]:
        if flag_value is not None:
            res.sources[key] = f"flag {flag_name}"
            return flag_value, True
        if key in config:
            res.sources[key] = origins.get(key, "config")
            return config[key], True
        res.sources[key] = "defaults"
        return default, False

    sandbox_flag = flags.sandbox or ("workspace-write" if flags.full_auto else None)
    approval_flag = flags.approval or ("on-request" if flags.full_auto else None)
    sandbox_flag_name = "-s/--sandbox" if flags.sandbox else "--full-auto"
    approval_flag_name = "-a/--ask-for-approval" if flags.approval else "--full-auto"
    if flags.dangerously_bypass:
        sandbox_flag, approval_flag = "danger-full-access", "never"
        sandbox_flag_name = approval_flag_name = "--dangerously-bypass-approvals-and-sandbox"

    approval, approval_explicit = candidate(
        "approval_policy",
        approval_flag,
        approval_flag_name,
        "untrusted" if project_trust == "untrusted" else "on-request",
    )
    approval = _clamp(
        res,
        requirements,
        "approval_policy",
        "allowed_approval_policies",
        approval,
        approval_explicit,
        fallback=None,
    )

    reviewer, reviewer_explicit = candidate("approvals_reviewer", None, "", "user")
    if reviewer == "guardian_subagent":
        reviewer = "auto_review"
    reviewer = _clamp(
        res,
        requirements,
        "approvals_reviewer",
        "allowed_approvals_reviewers",
        reviewer,
        reviewer_explicit,
        fallback=None,
    )

    sandbox, sandbox_explicit = candidate(
        "sandbox_mode",
        sandbox_flag,
        sandbox_flag_name,
        "workspace-write" if project_trust is not None else "read-only",
    )
    wanted_sandbox = sandbox
    sandbox = _clamp(
        res,
        requirements,
        "sandbox_mode",
        "allowed_sandbox_modes",
        sandbox,
        sandbox_explicit,
        fallback="read-only",
    )
    if (
        sandbox_explicit
        and wanted_sandbox == "danger-full-access"
        and sandbox != "danger-full-access"
        and approval == "never"
    ):
        raise CodexError(
            '`approval_policy = "never"` cannot be used because requirements do not allow'
            ' `sandbox_mode = "danger-full-access"`; Codex would fall back to read-only'
            " permissions with approvals disabled.",
            hint="choose an allowed sandbox mode (-s) or an approval policy other than never (-a)"
            f" (requirements set by {requirements.source('allowed_sandbox_modes')})",
        )

    web, web_explicit = candidate(
        "web_search", None, "", "live" if sandbox == "danger-full-access" else "cached"
    )
    web = _clamp_web(res, requirements, web, web_explicit)

    model, _ = candidate(
        "model", flags.model, "-m/--model", DEFAULT_OSS_MODEL if flags.oss else DEFAULT_MODEL
    )
    provider_flag = (config.get("oss_provider") or "ollama") if flags.oss else None
    provider, _ = candidate("model_provider", provider_flag, "--oss", "openai")

    res.values.update(
        approval_policy=approval,
        approvals_reviewer=reviewer,
        sandbox_mode=sandbox,
        web_search=web,
        model=model,
        model_provider=provider,
        sandbox_workspace_write=_workspace_write(config),
        features=_features(config, requirements),
        mcp_servers=_mcp_status(config, requirements),
        enforce_residency=requirements.value("enforce_residency"),
    )
    return res


def _clamp(
    res: Resolution,
    requirements: EffectiveRequirements,
    key: str,
    field_name: str,
    value: Any,
    explicit: bool,
    *,
    fallback: Any,
) -> Any:
    entry = requirements.get(field_name)
    if entry is None or value in entry.value:
        return value
    replacement = fallback if fallback is not None else entry.value[0]
    allowed = "[" + ", ".join(_show(v) for v in entry.value) + "]"
    details = (
        f"invalid value for `{key}`: `{_show(value)}` is not in the allowed set {allowed}"
        f" (set by {entry.source})"
    )
    res.fallbacks[key] = {
        "rejected": value,
        "rejected_from": res.sources.get(key),
        "value": replacement,
        "allowed": entry.value,
        "requirement_source": entry.source,
    }
    if explicit:
        res.warnings.append(
            f"Configured value for `{key}` is disallowed by requirements; falling back to"
            f" required value {_show(replacement)}. Details: {details}; the rejected value came"
            f" from {res.describe(res.sources.get(key, ''))}"
        )
    res.sources[key] = f"requirements fallback ({entry.source})"
    return replacement


def _clamp_web(
    res: Resolution, requirements: EffectiveRequirements, value: Any, explicit: bool
) -> Any:
    entry = requirements.get("allowed_web_search_modes")
    if entry is None:
        return value
    allowed = list(dict.fromkeys([*entry.value, "disabled"]))
    if value in allowed:
        return value
    fallback = next(m for m in ("cached", "live", "disabled") if m in allowed)
    shown = "[" + ", ".join(allowed) + "]"
    res.fallbacks["web_search"] = {
        "rejected": value,
        "rejected_from": res.sources.get("web_search"),
        "value": fallback,
        "allowed": allowed,
        "requirement_source": entry.source,
    }
    if explicit:
        res.warnings.append(
            "Configured value for `web_search` is disallowed by requirements; falling back to"
            f" required value {fallback}. Details: invalid value for `web_search`: `{value}` is"
            f" not in the allowed set {shown} (set by {entry.source}); the rejected value came"
            f" from {res.describe(res.sources.get('web_search', ''))}"
        )
    res.sources["web_search"] = f"requirements fallback ({entry.source})"
    return fallback


def _workspace_write(config: dict[str, Any]) -> dict[str, Any]:
    table = config.get("sandbox_workspace_write") or {}
    return {
        "writable_roots": list(table.get("writable_roots") or []),
        "network_access": bool(table.get("network_access", False)),
        "exclude_tmpdir_env_var": bool(table.get("exclude_tmpdir_env_var", False)),
        "exclude_slash_tmp": bool(table.get("exclude_slash_tmp", False)),
    }


def _features(config: dict[str, Any], requirements: EffectiveRequirements) -> dict[str, Any]:
    """Known flags with defaults, config values on top, requirement pins last (silently).

    Unknown names are left out: they have no effect (the loader warned about them).
    """
    out: dict[str, Any] = dict(KNOWN_FEATURES)
    for key, value in (config.get("features") or {}).items():
        name = canonical_feature(key)
        if name is not None:
            out[name] = copy.deepcopy(value)
    for key, value in (requirements.value("features") or {}).items():
        out[key] = value
    return dict(sorted(out.items()))


def _mcp_status(
    config: dict[str, Any], requirements: EffectiveRequirements
) -> dict[str, dict[str, Any]]:
    """Each configured MCP server's effective state under the requirements allow-list."""
    servers = config.get("mcp_servers") or {}
    allow = requirements.get("mcp_servers")
    status: dict[str, dict[str, Any]] = {}
    for name, server in servers.items():
        enabled = bool(server.get("enabled", True)) if isinstance(server, dict) else False
        reason = None
        if allow is not None:
            rule = allow.value.get(name)
            identity = (rule or {}).get("identity", {})
            ok = rule is not None and (
                ("command" in identity and identity["command"] == server.get("command"))
                or ("url" in identity and identity["url"] == server.get("url"))
            )
            if not ok:
                enabled, reason = False, f"requirements ({allow.source})"
        status[name] = {"enabled": enabled, "disabled_reason": reason}
    return status
