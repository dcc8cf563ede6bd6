"""The sandbox policy: what a command may write, read and reach, as plain data.

A :class:`SandboxPolicy` is built from the effective configuration (plain TOML-shaped dicts, so
this package does not depend on the config engine) by :func:`policy_from_config`, or directly by
callers and tests. It is platform-neutral: the Linux backend (:mod:`.bwrap`) and the macOS backend
(:mod:`.seatbelt`) both start from it.

Network modes: ``none`` (no network at all), ``proxy`` (only the managed proxy is reachable) and
``full`` (host network). ``full`` is offered only with ``danger-full-access`` or
``sandbox_workspace_write.network_access = true``, and never when requirements configure
``experimental_network`` (spec proxy §11, runtime §7.2).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_admin.errors import CodexError
from codex_admin.sandbox.env import EnvPolicy, UntrustedSetting, refuse_untrusted
from codex_admin.vocabulary import NetworkMode, SandboxMode

__all__ = [
    "NetworkMode",
    "SandboxMode",
    "SandboxPolicy",
    "check_network_mode",
    "policy_from_config",
]


@dataclass(frozen=True)
class SandboxPolicy:
    """Everything the backends need to confine one command.

    ``tmpdir`` is ``$TMPDIR`` captured when the policy was built, so building argv stays pure.
    ``managed_network`` records that requirements configure ``experimental_network``.
    ``protected_paths`` must stay read-only even below a writable root: ``$CODEX_HOME``, the
    system dir and the configuration, rules and requirements files the run loaded (they decide
    what the next run trusts).
    """

    mode: SandboxMode
    cwd: Path
    network: NetworkMode = NetworkMode.NONE
    writable_roots: tuple[Path, ...] = ()
    exclude_slash_tmp: bool = False
    exclude_tmpdir_env_var: bool = False
    tmpdir: Path | None = None
    deny_read: tuple[str, ...] = ()
    env: EnvPolicy = field(default_factory=EnvPolicy)
    network_access: bool = False
    managed_network: bool = False
    protected_paths: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        check_network_mode(
            self.mode,
            self.network,
            network_access=self.network_access,
            managed_network=self.managed_network,
        )
        for entry in self.deny_read:
            if not os.path.isabs(os.path.expanduser(entry)):
                raise CodexError(
                    f"deny_read entry {entry!r} is not an absolute path or glob",
                    hint="use an absolute path such as /home/*/.ssh",
                )

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "cwd": str(self.cwd),
            "network": self.network.value,
            "writable_roots": [str(p) for p in self.writable_roots],
            "exclude_slash_tmp": self.exclude_slash_tmp,
            "exclude_tmpdir_env_var": self.exclude_tmpdir_env_var,
            "tmpdir": str(self.tmpdir) if self.tmpdir else None,
            "deny_read": list(self.deny_read),
            "network_access": self.network_access,
            "managed_network": self.managed_network,
            "protected_paths": [str(p) for p in self.protected_paths],
            "shell_environment_policy": {
                "inherit": self.env.inherit,
                "ignore_default_excludes": self.env.ignore_default_excludes,
                "exclude": list(self.env.exclude),
                "include_only": list(self.env.include_only),
                "set": dict(self.env.set),
            },
        }


def check_network_mode(
    mode: SandboxMode, network: NetworkMode, *, network_access: bool, managed_network: bool
) -> None:
    """Refuse ``full`` network where the spec does not offer it."""
    if network is not NetworkMode.FULL:
        return
    if managed_network:
        raise CodexError(
            "network mode `full` is not available: requirements configure `experimental_network`",
            hint="use --network proxy (the managed proxy) or --network none",
        )
    if mode is SandboxMode.DANGER_FULL_ACCESS:
        return
    if mode is SandboxMode.WORKSPACE_WRITE and network_access:
        return
    raise CodexError(
        f"network mode `full` needs danger-full-access or "
        f"`sandbox_workspace_write.network_access = true` (sandbox is {mode.value})",
        hint="use --network proxy or --network none",
    )


def _proxy_feature_enabled(config: Mapping[str, Any]) -> bool:
    """The user enabled the managed proxy: ``[network] enabled`` or ``features.network_proxy``."""
    network = config.get("network")
    if isinstance(network, Mapping) and network.get("enabled") is True:
        return True
    features = config.get("features")
    if not isinstance(features, Mapping):
        return False
    flag = features.get("network_proxy")
    if isinstance(flag, Mapping):
        return flag.get("enabled", True) is True
    return flag is True


def managed_network_configured(managed_network: Mapping[str, Any] | None) -> bool:
    """Requirements configure a managed network unless the table is absent or disabled."""
    return (
        isinstance(managed_network, Mapping) and managed_network.get("enabled", True) is not False
    )


def policy_from_config(
    config: Mapping[str, Any],
    *,
    sandbox_mode: str,
    cwd: Path,
    deny_read: Sequence[str] = (),
    managed_network: Mapping[str, Any] | None = None,
    network: str | None = None,
    extra_writable_roots: Sequence[Path] = (),
    environ: Mapping[str, str] | None = None,
    protected_paths: Sequence[Path] = (),
    untrusted_env: Sequence[UntrustedSetting] = (),
) -> SandboxPolicy:
    """Build a policy from the effective config table plus requirement constraints.

    ``sandbox_mode`` is the already requirement-checked mode; ``deny_read`` and
    ``managed_network`` come from requirements (``permissions.filesystem.deny_read``,
    ``experimental_network``); ``network`` and ``extra_writable_roots`` are CLI overrides.
    ``protected_paths`` see :class:`SandboxPolicy`; ``untrusted_env`` lists the
    `shell_environment_policy` values that untrusted layers set (refused when they load code,
    see :func:`.env.refuse_untrusted`).
    """
    refuse_untrusted(tuple(untrusted_env))
    allowed = ", ".join(m.value for m in SandboxMode.cli_choices())
    try:
        mode = SandboxMode(sandbox_mode)
    except ValueError:
        raise CodexError(
            f"unknown sandbox mode {sandbox_mode!r}", hint=f"use one of: {allowed}"
        ) from None
    if mode not in SandboxMode.cli_choices():
        raise CodexError(
            f"sandbox mode {mode.value!r} means another sandbox confines the command; "
            "codex sandbox cannot run it",
            hint=f"use one of: {allowed}",
        )
    env = environ if environ is not None else os.environ
    wsw = config.get("sandbox_workspace_write") or {}
    if not isinstance(wsw, Mapping):
        raise CodexError("`sandbox_workspace_write` must be a table")
    roots_raw = wsw.get("writable_roots", [])
    if not isinstance(roots_raw, list) or not all(isinstance(r, str) for r in roots_raw):
        raise CodexError("`sandbox_workspace_write.writable_roots` must be an array of paths")
    flags = {}
    for key in ("network_access", "exclude_tmpdir_env_var", "exclude_slash_tmp"):
        value = wsw.get(key, False)
        if not isinstance(value, bool):
            raise CodexError(f"`sandbox_workspace_write.{key}` must be true or false")
        flags[key] = value
    roots = [cwd / os.path.expanduser(r) for r in roots_raw] + [
        cwd / r for r in extra_writable_roots
    ]
    managed = managed_network_configured(managed_network)
    if network is None:
        if managed or _proxy_feature_enabled(config):
            chosen = NetworkMode.PROXY
        elif mode is SandboxMode.DANGER_FULL_ACCESS or (
            mode is SandboxMode.WORKSPACE_WRITE and flags["network_access"]
        ):
            chosen = NetworkMode.FULL
        else:
            chosen = NetworkMode.NONE
    else:
        try:
            chosen = NetworkMode(network)
        except ValueError:
            raise CodexError(
                f"unknown network mode {network!r}", hint="use one of: none, proxy, full"
            ) from None
    tmpdir = env.get("TMPDIR")
    return SandboxPolicy(
        mode=mode,
        cwd=cwd,
        network=chosen,
        writable_roots=tuple(roots) if mode is SandboxMode.WORKSPACE_WRITE else (),
        exclude_slash_tmp=flags["exclude_slash_tmp"],
        exclude_tmpdir_env_var=flags["exclude_tmpdir_env_var"],
        tmpdir=Path(tmpdir) if tmpdir else None,
        deny_read=tuple(dict.fromkeys(deny_read)),
        env=EnvPolicy.from_table(config.get("shell_environment_policy")),
        network_access=flags["network_access"],
        managed_network=managed,
        protected_paths=tuple(dict.fromkeys(protected_paths)),
    )
