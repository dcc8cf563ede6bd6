"""pydantic model of `requirements.toml` (spec config §3.2): constraints users cannot loosen."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from codex_admin.config.models import ApprovalPolicy, Strict, WebSearchModeName, apply_model_check

__all__ = ["RequirementsToml"]

RequirementSandboxMode = Literal[
    "read-only", "workspace-write", "danger-full-access", "external-sandbox"
]


class RemoteSandboxEntry(Strict):
    """Per-host override of `allowed_sandbox_modes` (first matching entry wins)."""

    hostname_patterns: list[str]
    allowed_sandbox_modes: list[RequirementSandboxMode]


class McpIdentity(Strict):
    command: str | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _one(self, info: ValidationInfo) -> McpIdentity:
        apply_model_check(self, info)
        return self


class McpRequirement(Strict):
    identity: McpIdentity


class PatternToken(Strict):
    token: str | None = None
    any_of: list[str] | None = None


class PrefixRuleRequirement(Strict):
    pattern: list[PatternToken]
    decision: Literal["prompt", "forbidden", "allow"] | None = None
    justification: str | None = None
    reviewer: Literal["user", "auto_review"] | None = None


class RulesRequirement(Strict):
    prefix_rules: list[PrefixRuleRequirement]


class NetworkRequirement(Strict):
    """`[experimental_network]`: managed constraints on the network proxy (spec proxy §2.3)."""

    enabled: bool | None = None
    mode: Literal["full", "limited"] | None = None
    http_port: int | None = Field(default=None, ge=1, le=65535)
    socks_port: int | None = Field(default=None, ge=1, le=65535)
    allow_upstream_proxy: bool | None = None
    dangerously_allow_non_loopback_proxy: bool | None = None
    dangerously_allow_non_loopback_admin: bool | None = None
    dangerously_allow_all_unix_sockets: bool | None = None
    domains: dict[str, Literal["allow", "deny", "none"]] | None = None
    allowed_domains: list[str] | None = None
    denied_domains: list[str] | None = None
    managed_allowed_domains_only: bool | None = None
    unix_sockets: dict[str, Literal["allow", "deny", "none"]] | None = None
    allow_unix_sockets: list[str] | None = None
    allow_local_binding: bool | None = None
    danger_full_access_denylist_only: bool | None = None


class FilesystemRequirement(Strict):
    deny_read: list[str] | None = None


class PermissionsRequirement(BaseModel):
    """`[permissions]`: `filesystem.deny_read` plus managed permission profiles (kept as-is)."""

    model_config = ConfigDict(extra="allow", strict=True)
    filesystem: FilesystemRequirement | None = None


class HookHandler(Strict):
    """One handler. Only `command` handlers run; `prompt`/`agent` are accepted and skipped."""

    type: Literal["command", "prompt", "agent"] = "command"
    command: str | None = None
    commandWindows: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    timeoutSec: float | None = Field(default=None, gt=0)
    async_: bool | None = Field(default=None, alias="async")
    statusMessage: str | None = None


class HookGroup(Strict):
    matcher: str | None = None
    hooks: list[HookHandler] = Field(default_factory=list)


class HooksRequirement(Strict):
    """`[hooks]`: managed hooks (always trusted, cannot be disabled) and where they live.

    The event keys are :class:`~codex_admin.vocabulary.HookEventName`; any other key is a
    located error (requirements fail closed, see `requirements.py`).
    """

    managed_dir: str | None = None
    windows_managed_dir: str | None = None
    PreToolUse: list[HookGroup] | None = None
    PermissionRequest: list[HookGroup] | None = None
    PostToolUse: list[HookGroup] | None = None
    PreCompact: list[HookGroup] | None = None
    PostCompact: list[HookGroup] | None = None
    SessionStart: list[HookGroup] | None = None
    SessionEnd: list[HookGroup] | None = None
    UserPromptSubmit: list[HookGroup] | None = None
    SubagentStart: list[HookGroup] | None = None
    SubagentStop: list[HookGroup] | None = None
    Stop: list[HookGroup] | None = None


class RequirementsToml(Strict):
    """`requirements.toml` from the system dir, MDM, or a remote signed bundle."""

    allowed_approval_policies: list[ApprovalPolicy] | None = None
    allowed_approvals_reviewers: (
        list[Literal["user", "auto_review", "guardian_subagent"]] | None
    ) = None
    allowed_sandbox_modes: list[RequirementSandboxMode] | None = None
    remote_sandbox_config: list[RemoteSandboxEntry] | None = None
    allowed_web_search_modes: list[WebSearchModeName] | None = None
    features: dict[str, bool] | None = None
    feature_requirements: dict[str, bool] | None = None
    mcp_servers: dict[str, McpRequirement] | None = None
    plugins: dict[str, Any] | None = None
    apps: dict[str, Any] | None = None
    rules: RulesRequirement | None = None
    enforce_residency: Literal["us"] | None = None
    experimental_network: NetworkRequirement | None = None
    permissions: PermissionsRequirement | None = None
    hooks: HooksRequirement | None = None
    allow_managed_hooks_only: bool | None = None
    computer_use: dict[str, Any] | None = None
    windows: dict[str, Any] | None = None
    guardian_policy_config: str | None = None
    guardian_extra_policy: str | None = None
    allow_guardian_fail_open: bool | None = None
    marketplaces: Any = None
    allowed_permission_profiles: Any = None
    allowed_permissions: Any = None
    default_permissions: str | None = None
    # Login restrictions; they beat the same keys in config (`codex_admin.auth` applies them).
    forced_login_method: Literal["chatgpt", "api"] | None = None
    forced_chatgpt_workspace_id: str | list[str] | None = None
