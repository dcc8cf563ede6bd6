"""Options and the loading that every command shares.

`load_effective_config` and `load_governance` are the only ways commands obtain configuration:
both go through :mod:`codex_admin.governance`, so every command honours the same layers, flags,
requirements and (when configured) the remote signed requirements source.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codex_admin.cli import context
from codex_admin.cli.output import toml_value as toml_value  # re-exported for the commands
from codex_admin.vocabulary import ApprovalPolicy, NetworkMode, SandboxMode

if TYPE_CHECKING:
    from codex_admin.config import ConfigResult
    from codex_admin.governance import Governance, GovernanceRequest

CwdOpt = Annotated[
    Path | None,
    typer.Option("-C", "--cd", metavar="DIR", help="Working directory (drives project discovery)"),
]
OverrideOpt = Annotated[
    list[str] | None,
    typer.Option(
        "-c", "--config", metavar="KEY=VALUE", help="Override a config key (TOML value; repeatable)"
    ),
]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", "-p", metavar="NAME", help="Use [profiles.NAME]")
]
ModelOpt = Annotated[
    str | None, typer.Option("-m", "--model", metavar="MODEL", help="Model override")
]
SandboxOpt = Annotated[
    str | None,
    typer.Option(
        "-s",
        "--sandbox",
        metavar="MODE",
        help="read-only | workspace-write | danger-full-access",
    ),
]
ApprovalOpt = Annotated[
    str | None,
    typer.Option(
        "-a",
        "--ask-for-approval",
        metavar="POLICY",
        help="untrusted | on-failure | on-request | never",
    ),
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
_NETWORK = tuple(m.value for m in NetworkMode)


def governance_request(
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
    writable_roots: Sequence[Path] = (),
    network: str | None = None,
    ignore_user_config: bool = False,
    ignore_rules: bool = False,
) -> GovernanceRequest:
    """Validate the shared flags (usage errors exit 2) and build the governance request."""
    from codex_admin.config import Flags
    from codex_admin.governance import GovernanceRequest

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
    if network is not None and network not in _NETWORK:
        raise typer.BadParameter(
            f"{network!r} is not one of {', '.join(_NETWORK)}", param_hint="'--network'"
        )
    flags = Flags(
        model=model,
        sandbox=sandbox,
        approval=approval,
        full_auto=full_auto,
        dangerously_bypass=dangerously_bypass,
        oss=oss,
    )
    return GovernanceRequest(
        cwd=cwd,
        overrides=[*context.ROOT_OVERRIDES, *(overrides or [])],
        profile=profile,
        flags=flags,
        strict=strict,
        writable_roots=tuple(writable_roots),
        network=NetworkMode(network) if network else None,
        ignore_user_config=ignore_user_config,
        ignore_rules=ignore_rules,
    )


def load_effective_config(
    cwd: Path | None = None, overrides: Sequence[str] | None = None, **flags: Any
) -> ConfigResult:
    """The effective configuration for this invocation (raises CodexError on bad input)."""
    from codex_admin.governance import load_governed_config

    return load_governed_config(governance_request(cwd, overrides, **flags))


def load_governance(
    cwd: Path | None = None, overrides: Sequence[str] | None = None, **flags: Any
) -> Governance:
    """The effective governance for this invocation (raises CodexError on bad input)."""
    from codex_admin.governance import load_governance as load

    return load(governance_request(cwd, overrides, **flags))
