"""Sandboxes for commands the agent runs: Linux bubblewrap and the macOS Seatbelt profile.

Flow: configuration -> :class:`SandboxPolicy` (:func:`policy_from_config`) -> :class:`SandboxPlan`
(:func:`plan_sandbox`, the only step that reads the filesystem) -> backend argv
(:func:`build_bwrap_argv`, pure) or SBPL text (:func:`seatbelt_profile`, pure) ->
:func:`run_sandboxed` (asyncio). :class:`SandboxSession` runs many commands with one lazily
started managed proxy for the ``proxy`` network mode. :func:`bwrap_status` is what
``codex doctor`` reports.

Module map:

* :mod:`.policy` -- :class:`SandboxPolicy`, :func:`policy_from_config`;
* :mod:`.env` -- `shell_environment_policy`: secrets out, code-loading variables from
  untrusted layers refused;
* :mod:`.plan` and :mod:`.guard` -- mounts, protected names at every depth, post-run repair;
* :mod:`.seccomp` -- the BPF filter (socket families per network mode, dangerous syscalls);
* :mod:`.bwrap` -- bubblewrap options, which bwrap, the probe;
* :mod:`.launch` -- one launch prepared and finished (environment, fds, status, repair);
* :mod:`.runner` (asyncio, the agent's path) and :mod:`.blocking` (a one-shot CLI run, no
  asyncio) -- waiting for it; :mod:`.netns` -- the proxy's listeners inside the namespace;
* :mod:`.shared` -- :class:`SandboxSession` (cheap to build: the runner loads with its first
  command);
* :mod:`.session` -- one-command runs, explain, macOS;
* :mod:`.seatbelt` -- the macOS profile.

Names are resolved lazily (PEP 562): ``codex doctor`` asking for :func:`bwrap_status` does not
import asyncio or the runner, :func:`run_once` imports asyncio only for a proxied command, and
nothing here imports the proxy package until a command needs the network.
"""

from typing import TYPE_CHECKING

from codex_admin.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from codex_admin.sandbox.blocking import run_blocking, run_once
    from codex_admin.sandbox.bwrap import (
        BwrapStatus,
        build_bwrap_argv,
        bwrap_info,
        bwrap_status,
        bwrap_version,
        locate_bwrap,
        require_bwrap,
    )
    from codex_admin.sandbox.env import (
        CODE_LOADING_VARIABLES,
        CORE_VARIABLES,
        DEFAULT_EXCLUDES,
        OWN_SECRETS,
        EnvPolicy,
        UntrustedSetting,
        build_child_env,
        is_code_loading,
        strip_url_credentials,
    )
    from codex_admin.sandbox.guard import PROTECTED_NAMES, Repair, TreeIndex
    from codex_admin.sandbox.launch import (
        BRIDGE_HTTP_PORT,
        BRIDGE_SOCKS_PORT,
        ProxyEndpoints,
        RunResult,
        explain,
    )
    from codex_admin.sandbox.plan import SandboxPlan, plan_sandbox
    from codex_admin.sandbox.policy import (
        NetworkMode,
        SandboxMode,
        SandboxPolicy,
        check_network_mode,
        policy_from_config,
    )
    from codex_admin.sandbox.runner import run_sandboxed
    from codex_admin.sandbox.seatbelt import (
        glob_to_sbpl_regex,
        sandbox_exec_argv,
        seatbelt_profile,
    )
    from codex_admin.sandbox.seccomp import sandbox_filter
    from codex_admin.sandbox.session import (
        explain_command,
        macos_profile,
        run_command,
        run_command_macos,
    )
    from codex_admin.sandbox.shared import SandboxSession

_MODULES = {
    "bwrap": (
        "BwrapStatus",
        "build_bwrap_argv",
        "bwrap_info",
        "bwrap_status",
        "bwrap_version",
        "locate_bwrap",
        "require_bwrap",
    ),
    "env": (
        "CODE_LOADING_VARIABLES",
        "CORE_VARIABLES",
        "DEFAULT_EXCLUDES",
        "OWN_SECRETS",
        "EnvPolicy",
        "UntrustedSetting",
        "build_child_env",
        "is_code_loading",
        "strip_url_credentials",
    ),
    "guard": ("PROTECTED_NAMES", "Repair", "TreeIndex"),
    "plan": ("SandboxPlan", "plan_sandbox"),
    "policy": (
        "NetworkMode",
        "SandboxMode",
        "SandboxPolicy",
        "check_network_mode",
        "policy_from_config",
    ),
    "blocking": ("run_blocking", "run_once"),
    "launch": ("BRIDGE_HTTP_PORT", "BRIDGE_SOCKS_PORT", "ProxyEndpoints", "RunResult", "explain"),
    "runner": ("run_sandboxed",),
    "seatbelt": ("glob_to_sbpl_regex", "sandbox_exec_argv", "seatbelt_profile"),
    "seccomp": ("sandbox_filter",),
    "shared": ("SandboxSession",),
    "session": (
        "explain_command",
        "macos_profile",
        "run_command",
        "run_command_macos",
    ),
}
_EXPORTS = {
    name: f"codex_admin.sandbox.{module}" for module, names in _MODULES.items() for name in names
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "BRIDGE_HTTP_PORT",
    "BRIDGE_SOCKS_PORT",
    "CODE_LOADING_VARIABLES",
    "CORE_VARIABLES",
    "DEFAULT_EXCLUDES",
    "OWN_SECRETS",
    "PROTECTED_NAMES",
    "BwrapStatus",
    "EnvPolicy",
    "NetworkMode",
    "ProxyEndpoints",
    "Repair",
    "RunResult",
    "SandboxMode",
    "SandboxPlan",
    "SandboxPolicy",
    "SandboxSession",
    "TreeIndex",
    "UntrustedSetting",
    "build_bwrap_argv",
    "build_child_env",
    "bwrap_info",
    "bwrap_status",
    "bwrap_version",
    "check_network_mode",
    "explain",
    "explain_command",
    "glob_to_sbpl_regex",
    "is_code_loading",
    "locate_bwrap",
    "macos_profile",
    "plan_sandbox",
    "policy_from_config",
    "require_bwrap",
    "run_blocking",
    "run_command",
    "run_command_macos",
    "run_once",
    "run_sandboxed",
    "sandbox_exec_argv",
    "sandbox_filter",
    "seatbelt_profile",
    "strip_url_credentials",
]
