"""The kind of every requirements and managed-config field (data for :mod:`diff_engine`).

Each entry maps a key pattern to the :class:`~codex_admin.managed.diff_engine.Kind` that judges
it; the first match wins, so specific keys come before the ``**`` catch-alls. A requirement not
listed here is reviewed (it counts as looser); a managed-config value not listed is neutral.
"""

from __future__ import annotations

from codex_admin.managed.changes import KeyPath
from codex_admin.managed.diff_collections import (
    ManagedNetwork,
    Members,
    NamedAllowList,
    PrefixRules,
)
from codex_admin.managed.diff_engine import Kind
from codex_admin.managed.diff_kinds import (
    BOOL_LOOSE,
    BOOL_TIGHT,
    Feature,
    Neutral,
    Pinned,
    Ranked,
    Review,
    Verdict,
)
from codex_admin.vocabulary import ApprovalPolicy, SandboxMode

__all__ = ["CONFIG", "REQUIREMENTS"]

_REVIEWER = {"user": 0, "auto_review": 1, "guardian_subagent": 1}
_WEB_SEARCH = {"disabled": 0, "cached": 1, "live": 2}
_NETWORK_MODE = {"limited": 0, "full": 1}
_APPROVAL = {p.value: p.rank for p in ApprovalPolicy}
_SANDBOX = {m.value: m.rank for m in SandboxMode}

_NET_PERMITS = (  # `false` in requirements forbids; unset or `true` permits
    "allow_upstream_proxy",
    "allow_local_binding",
    "dangerously_allow_non_loopback_proxy",
    "dangerously_allow_non_loopback_admin",
    "dangerously_allow_all_unix_sockets",
    "enable_socks5",
    "enable_socks5_udp",
)

REQUIREMENTS: tuple[tuple[KeyPath, Kind], ...] = (
    (("allowed_approval_policies",), Members("grows", fallback=_APPROVAL)),
    (("allowed_approvals_reviewers",), Members("grows", fallback=_REVIEWER)),
    (("allowed_sandbox_modes",), Members("grows")),
    (("allowed_web_search_modes",), Members("grows")),
    (("allowed_permissions",), Members("grows")),
    (("allowed_permission_profiles",), Members("grows")),
    (("marketplaces",), Members("grows")),
    (("windows", "allowed_*"), Members("grows")),
    (("features", "*"), Feature()),
    (("feature_requirements", "*"), Feature()),
    (("mcp_servers",), NamedAllowList()),
    (("plugins",), NamedAllowList()),
    (("apps", "*", "enabled"), Ranked(BOOL_LOOSE, unset=1)),
    (
        ("apps", "*", "tools", "*", "approval_mode"),
        Ranked({"prompt": 0, "approve": 0, "auto": 2}, unset=1),
    ),
    (("rules",), PrefixRules()),
    (("enforce_residency",), Pinned()),
    (("default_permissions",), Pinned()),
    (("forced_login_method",), Pinned()),
    (("forced_chatgpt_workspace_id",), Pinned()),
    (("experimental_network",), ManagedNetwork()),
    (("experimental_network", "enabled"), Ranked(BOOL_TIGHT, unset=0)),
    *((("experimental_network", k), Ranked(BOOL_LOOSE, unset=1)) for k in _NET_PERMITS),
    (("experimental_network", "danger_full_access_denylist_only"), Ranked(BOOL_LOOSE, unset=0)),
    (("experimental_network", "managed_allowed_domains_only"), Ranked(BOOL_TIGHT, unset=1)),
    (("experimental_network", "mode"), Ranked(_NETWORK_MODE, unset=1)),
    (("experimental_network", "domains", "*"), Verdict("network")),
    (("experimental_network", "unix_sockets", "*"), Verdict("unix socket")),
    (("experimental_network", "http_port"), Neutral()),
    (("experimental_network", "socks_port"), Neutral()),
    (("permissions", "filesystem", "deny_read"), Members("shrinks")),
    (("hooks", "managed_dir"), Review()),
    (("hooks", "windows_managed_dir"), Review()),
    (("hooks", "*"), Members("shrinks")),
    (("allow_managed_hooks_only",), Ranked(BOOL_TIGHT, unset=1)),
    (("allow_guardian_fail_open",), Ranked(BOOL_LOOSE, unset=0)),
    (("computer_use", "allow_locked_computer_use"), Ranked(BOOL_LOOSE, unset=0)),
)

CONFIG: tuple[tuple[KeyPath, Kind], ...] = (
    (("approval_policy",), Ranked(_APPROVAL, default="on-request")),
    (("approvals_reviewer",), Ranked(_REVIEWER, default="user")),
    (("sandbox_mode",), Ranked(_SANDBOX, default="read-only")),
    (("web_search",), Ranked(_WEB_SEARCH, default="cached")),
    (("tools", "web_search"), Ranked(BOOL_LOOSE, default=False)),
    (("features", "*"), Feature()),
    (("sandbox_workspace_write", "network_access"), Ranked(BOOL_LOOSE, default=False)),
    (("sandbox_workspace_write", "writable_roots"), Members("grows", default=frozenset())),
    (("sandbox_workspace_write", "exclude_tmpdir_env_var"), Ranked(BOOL_TIGHT, default=False)),
    (("sandbox_workspace_write", "exclude_slash_tmp"), Ranked(BOOL_TIGHT, default=False)),
    (
        ("shell_environment_policy", "inherit"),
        Ranked({"none": 0, "core": 1, "all": 2}, default="all"),
    ),
    (("shell_environment_policy", "ignore_default_excludes"), Ranked(BOOL_LOOSE, default=False)),
    (("shell_environment_policy", "exclude"), Members("shrinks", default=frozenset())),
    (("shell_environment_policy", "include_only"), Members("grows")),
    (("shell_environment_policy", "**"), Review()),  # `set`: variables forced into commands
    (("network", "mode"), Ranked(_NETWORK_MODE, default="full")),
    (("network", "domains", "*"), Verdict("network")),
    (("network", "unix_sockets", "*"), Verdict("unix socket")),
    *((("network", k), Ranked(BOOL_LOOSE, default=k == "enable_socks5")) for k in _NET_PERMITS),
    (("network", "http_port"), Neutral()),
    (("network", "socks_port"), Neutral()),
    (("network", "**"), Review()),  # enabled, mitm, proxy_url: direction depends on the rest
    (
        ("projects", "*", "trust_level"),
        Ranked({"untrusted": 0, "trusted": 1}, default="untrusted"),
    ),
    (("allow_login_shell",), Ranked(BOOL_LOOSE, default=True)),
    (("forced_login_method",), Pinned()),
    (("forced_chatgpt_workspace_id",), Pinned()),
    *(
        ((name, "**"), Review())
        for name in (
            "mcp_servers",
            "model_providers",
            "model_provider",
            "openai_base_url",
            "chatgpt_base_url",
            "notify",
            "hooks",
            "otel",
            "permissions",
            "default_permissions",
            "windows",
            "projects",
        )
    ),
)
