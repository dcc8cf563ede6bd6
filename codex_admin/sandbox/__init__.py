"""Sandboxes for commands the agent runs: Linux bubblewrap and the macOS Seatbelt profile.

Flow: configuration -> :class:`SandboxPolicy` (:func:`policy_from_config`) -> :class:`SandboxPlan`
(:func:`plan_sandbox`, the only step that reads the filesystem) -> backend argv
(:func:`build_bwrap_argv`, pure) or SBPL text (:func:`seatbelt_profile`, pure) ->
:func:`run_sandboxed` (asyncio). :func:`run_with_session_proxy` starts the managed proxy for the
``proxy`` network mode. :func:`bwrap_status` is what ``codex doctor`` reports.
"""

from codex_admin.sandbox.bwrap import (
    BwrapStatus,
    build_bwrap_argv,
    bwrap_status,
    locate_bwrap,
    require_bwrap,
)
from codex_admin.sandbox.env import (
    CORE_VARIABLES,
    DEFAULT_EXCLUDES,
    OWN_SECRETS,
    EnvPolicy,
    build_child_env,
)
from codex_admin.sandbox.plan import PROTECTED_NAMES, SandboxPlan, plan_sandbox
from codex_admin.sandbox.policy import (
    NetworkMode,
    SandboxMode,
    SandboxPolicy,
    check_network_mode,
    policy_from_config,
)
from codex_admin.sandbox.runner import (
    BRIDGE_HTTP_PORT,
    BRIDGE_SOCKS_PORT,
    ProxyEndpoints,
    RunResult,
    explain,
    run_sandboxed,
)
from codex_admin.sandbox.seatbelt import glob_to_sbpl_regex, sandbox_exec_argv, seatbelt_profile
from codex_admin.sandbox.session import (
    SandboxSession,
    explain_command,
    macos_profile,
    run_command,
    run_command_macos,
)

__all__ = [
    "BRIDGE_HTTP_PORT",
    "BRIDGE_SOCKS_PORT",
    "CORE_VARIABLES",
    "DEFAULT_EXCLUDES",
    "OWN_SECRETS",
    "PROTECTED_NAMES",
    "BwrapStatus",
    "EnvPolicy",
    "NetworkMode",
    "ProxyEndpoints",
    "RunResult",
    "SandboxMode",
    "SandboxPlan",
    "SandboxPolicy",
    "SandboxSession",
    "build_bwrap_argv",
    "build_child_env",
    "bwrap_status",
    "check_network_mode",
    "explain",
    "explain_command",
    "glob_to_sbpl_regex",
    "locate_bwrap",
    "macos_profile",
    "plan_sandbox",
    "policy_from_config",
    "require_bwrap",
    "run_command",
    "run_command_macos",
    "run_sandboxed",
    "sandbox_exec_argv",
    "seatbelt_profile",
]
