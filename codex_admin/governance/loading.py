"""Load the configuration a governed run obeys: the five layers plus every requirements source.

This is the ONE place that wires the remote signed requirements bundle into config loading, so
no entry point (a CLI command, the agent, doctor) can forget it and run under looser
requirements than the organisation published.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codex_admin.config import (
    ConfigResult,
    Flags,
    LoadOptions,
    RequirementsDocument,
    codex_home,
    load_config,
    system_dir,
)
from codex_admin.managed import REMOTE_CONFIG_NAME
from codex_admin.vocabulary import NetworkMode

__all__ = ["GovernanceRequest", "load_governed_config"]


@dataclass(frozen=True)
class GovernanceRequest:
    """What selects the governance of one invocation: where, which overrides, which flags.

    ``writable_roots`` are extra roots (`--add-dir`, `--writable-root`), ``network`` a forced
    network mode (`codex sandbox --network`); ``environ`` is the environment the child
    commands inherit from (default: this process's).
    """

    cwd: Path | None = None
    overrides: Sequence[str] = ()
    profile: str | None = None
    flags: Flags = field(default_factory=Flags)
    strict: bool = False
    writable_roots: Sequence[Path] = ()
    network: NetworkMode | None = None
    environ: Mapping[str, str] | None = None
    ignore_user_config: bool = False
    ignore_rules: bool = False  # only requirements' [rules] apply (user/project *.rules skipped)


def load_governed_config(request: GovernanceRequest) -> ConfigResult:
    """The effective configuration and requirements (raises CodexError; fails closed)."""
    options = LoadOptions(
        cwd=request.cwd,
        overrides=list(request.overrides),
        profile=request.profile,
        flags=request.flags,
        strict=request.strict,
        remote_requirements=_remote_requirements,
        ignore_user_config=request.ignore_user_config,
    )
    return load_config(options)


def _remote_requirements() -> RequirementsDocument | None:
    """The signed remote requirements bundle, when the system dir configures one (fail closed)."""
    sysdir = system_dir()
    if not (sysdir / REMOTE_CONFIG_NAME).exists():
        return None
    # managed.remote pulls in httpx and cryptography: imported only when a bundle is configured.
    from codex_admin.managed import load_remote_requirements

    return load_remote_requirements(sysdir, codex_home())
