"""Options and the config loading that every command shares.

`load_effective_config` is the one way commands obtain configuration, so every command honours the
same layers, flags, requirements and (when configured) the remote signed requirements source.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codex_admin.cli import context
from codex_admin.vocabulary import ApprovalPolicy, SandboxMode

if TYPE_CHECKING:
    from codex_admin.config import ConfigResult, RequirementsDocument

CwdOpt = Annotated[
    Path | None, typer.Option("-C", "--cd", help="Working directory (drives project discovery)")
]
OverrideOpt = Annotated[
    list[str] | None,
    typer.Option("-c", "--config", help="Override a config key: KEY=VALUE (TOML value)"),
]
ProfileOpt = Annotated[str | None, typer.Option("--profile", "-p", help="Use [profiles.NAME]")]
ModelOpt = Annotated[str | None, typer.Option("-m", "--model", help="Model override")]
SandboxOpt = Annotated[
    str | None,
    typer.Option("-s", "--sandbox", help="read-only | workspace-write | danger-full-access"),
]
ApprovalOpt = Annotated[
    str | None,
    typer.Option("-a", "--ask-for-approval", help="untrusted | on-failure | on-request | never"),
]
FullAutoOpt = Annotated[
    bool, typer.Option("--full-auto", help="workspace-write sandbox + on-request approvals")
]
BypassOpt = Annotated[
    bool,
    typer.Option(
        "--dangerously-bypass-approvals-and-sandbox",
        "--yolo",
        help="No sandbox, no approvals (still subject to requirements)",
    ),
]
OssOpt = Annotated[bool, typer.Option("--oss", help="Use a local open-source model provider")]
StrictOpt = Annotated[
    bool, typer.Option("--strict-config", help="Unknown config keys are errors, not warnings")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object")]

_SANDBOX = tuple(m.value for m in SandboxMode.cli_choices())
_APPROVAL = tuple(p.value for p in ApprovalPolicy)


def load_effective_config(
    cwd: Path | None = None,
    overrides: Sequence[str] | None = None,
    *,
    profile: str | None = None,
    model: str | None = None,
    sandbox: str | None = None,
    approval: str | None = None,
    full_auto: bool = False,
    dangerously_bypass: bool = False,
    oss: bool = False,
    strict: bool = False,
) -> ConfigResult:
    """Load the effective configuration for this invocation (raises CodexError on bad input)."""
    from codex_admin.config import Flags, LoadOptions, load_config

    if sandbox is not None and sandbox not in _SANDBOX:
        raise typer.BadParameter(
            f"{sandbox!r} is not one of {', '.join(_SANDBOX)}", param_hint="'-s/--sandbox'"
        )
    if approval is not None and approval not in _APPROVAL:
        raise typer.BadParameter(
            f"{approval!r} is not one of {', '.join(_APPROVAL)}",
            param_hint="'-a/--ask-for-approval'",
        )
    if dangerously_bypass and (approval or full_auto):
        raise typer.BadParameter(
            "cannot be combined with -a/--ask-for-approval or --full-auto",
            param_hint="'--dangerously-bypass-approvals-and-sandbox'",
        )
    flags = Flags(
        model=model,
        sandbox=sandbox,
        approval=approval,
        full_auto=full_auto,
        dangerously_bypass=dangerously_bypass,
        oss=oss,
    )
    options = LoadOptions(
        cwd=cwd,
        overrides=[*context.ROOT_OVERRIDES, *(overrides or [])],
        profile=profile,
        flags=flags,
        strict=strict,
        remote_requirements=_remote_requirements,
    )
    return load_config(options)


def _remote_requirements() -> RequirementsDocument | None:
    """The signed remote requirements bundle, when the system dir configures one (fail closed)."""
    from codex_admin.config import codex_home, system_dir
    from codex_admin.managed.names import REMOTE_CONFIG_NAME

    sysdir = system_dir()
    if not (sysdir / REMOTE_CONFIG_NAME).exists():
        return None  # the common case: skip importing httpx and cryptography
    from codex_admin.managed import load_remote_requirements

    return load_remote_requirements(sysdir, codex_home())


def toml_value(value: Any) -> str:
    """Render a value as an inline TOML value (for human-readable output)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + inner + "}" if inner else "{}"
    if value is None:
        return "(unset)"
    return json.dumps(str(value))


def _key(key: str) -> str:
    from codex_admin.config import format_key

    return format_key([key])


def network_table_with_rules(result: ConfigResult) -> dict[str, Any] | None:
    """The `[network]` table plus the domains that execpolicy `network_rule`s decide.

    Rules files (system, user, trusted projects) may allow or deny hosts; the proxy enforces
    them through the same lists as `[network]`. A deny always wins over an allow of the same
    pattern, and requirements still clamp the result (managed denies are a floor).
    """
    from codex_admin.execpolicy import load_configured_policy

    table = result.config.get("network")
    policy, _ = load_configured_policy(
        result.config_folders,
        result.requirements.value("rules"),
        result.requirements.source("rules") or "requirements",
    )
    allowed, denied = policy.compiled_network_domains()
    if not allowed and not denied:
        return table if isinstance(table, dict) else None
    merged = dict(table) if isinstance(table, dict) else {}
    if "allowed_domains" in merged or "denied_domains" in merged:
        merged["allowed_domains"] = [*merged.get("allowed_domains", []), *allowed]
        merged["denied_domains"] = [*merged.get("denied_domains", []), *denied]
        return merged
    domains = dict(merged.get("domains") or {})
    for host in allowed:
        domains.setdefault(host, "allow")
    for host in denied:
        domains[host] = "deny"
    merged["domains"] = domains
    return merged
