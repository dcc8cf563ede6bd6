"""pydantic models of `config.toml` / `managed_config.toml` (one shape) and their value types.

They describe the keys of Codex's config (spec config §6) that this product reads, and accept the
rest of Codex's documented keys loosely so an organisation's existing files validate. Unknown keys
are reported by the loader as warnings (errors with `--strict-config`). JSON Schemas in
`managed/schema/` are generated from these models, never written by hand.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from codex_admin.config.checks import MODEL_CHECKS
from codex_admin.telemetry.otel_table import OtelConfig
from codex_admin.vocabulary import ApprovalPolicy as ApprovalPolicyEnum
from codex_admin.vocabulary import ApprovalsReviewer, WebSearchMode
from codex_admin.vocabulary import SandboxMode as SandboxModeEnum

__all__ = [
    "APPROVAL_POLICIES",
    "REVIEWERS",
    "SANDBOX_MODES",
    "WEB_SEARCH_MODES",
    "ApprovalPolicy",
    "AutoReviewConfig",
    "ConfigToml",
    "GranularApproval",
    "McpServerConfig",
    "ModelProviderAuth",
    "ModelProviderConfig",
    "NetworkConfig",
    "Profile",
    "SandboxWorkspaceWrite",
    "ShellEnvironmentPolicy",
]

# The spellings come from the shared vocabulary; the Literals below repeat them because pydantic
# and the generated JSON Schemas need static types (tests/config pin that the two agree).
APPROVAL_POLICIES = tuple(p.value for p in ApprovalPolicyEnum)
SANDBOX_MODES = tuple(m.value for m in SandboxModeEnum.cli_choices())
REVIEWERS = tuple(r.value for r in ApprovalsReviewer)
WEB_SEARCH_MODES = tuple(m.value for m in WebSearchMode)

ApprovalPolicyName = Literal["untrusted", "on-failure", "on-request", "never"]
SandboxModeName = Literal["read-only", "workspace-write", "danger-full-access"]
ReviewerName = Literal["user", "auto_review", "guardian_subagent"]
WebSearchModeName = Literal["disabled", "cached", "live"]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


class Strict(BaseModel):
    """Base: unknown keys are reported (the loader turns them into warnings or errors).

    Types are strict: TOML is typed, so ``"no"`` is not a boolean and ``"1"`` not a number
    (pydantic's lax mode would silently turn ``enabled = "no"`` into false).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


def apply_model_check(model: BaseModel, info: ValidationInfo) -> None:
    """Run the whole-table rule of :mod:`.checks` for ``model`` unless validating one layer."""
    if isinstance(info.context, dict) and info.context.get("partial"):
        return
    rule = MODEL_CHECKS[type(model).__name__]
    problem = rule(model.model_dump(by_alias=True))
    if problem is not None:
        raise ValueError(problem)


class GranularApproval(Strict):
    """Per-category approval switches (`approval_policy = {granular = {...}}`)."""

    sandbox_approval: bool | None = None
    rules: bool | None = None
    skill_approval: bool | None = None
    request_permissions: bool | None = None
    mcp_elicitations: bool | None = None


class GranularPolicy(Strict):
    granular: GranularApproval


ApprovalPolicy = ApprovalPolicyName | GranularPolicy


class SandboxWorkspaceWrite(Strict):
    """Settings used only by the `workspace-write` sandbox."""

    writable_roots: list[str] | None = None
    network_access: bool | None = None
    exclude_tmpdir_env_var: bool | None = None
    exclude_slash_tmp: bool | None = None


class ShellEnvironmentPolicy(Strict):
    """Which environment variables a sandboxed command inherits."""

    inherit: Literal["all", "core", "none"] | None = None
    ignore_default_excludes: bool | None = None
    exclude: list[str] | None = None
    set: dict[str, str] | None = None
    include_only: list[str] | None = None
    experimental_use_profile: bool | None = None
    filters: dict[str, Any] | None = None


class McpServerConfig(Strict):
    """An MCP server: stdio (`command`) or streamable HTTP (`url`)."""

    command: str | None = None
    args: list[str] | None = None
    env: dict[str, str] | None = None
    env_vars: list[str] | None = None
    cwd: str | None = None
    url: str | None = None
    bearer_token_env_var: str | None = None
    http_headers: dict[str, str] | None = None
    env_http_headers: dict[str, str] | None = None
    enabled: bool | None = None
    required: bool | None = None
    startup_timeout_sec: float | None = None
    startup_timeout_ms: int | None = None
    tool_timeout_sec: float | None = None
    enabled_tools: list[str] | None = None
    disabled_tools: list[str] | None = None
    scopes: list[str] | None = None
    oauth_resource: str | None = None
    tools: dict[str, Any] | None = None
    bearer_token: str | None = Field(
        default=None, description="Rejected: use bearer_token_env_var instead."
    )

    @model_validator(mode="after")
    def _transport(self, info: ValidationInfo) -> McpServerConfig:
        apply_model_check(self, info)
        return self


class ModelProviderAuth(Strict):
    """`[model_providers.<id>.auth]`: a command that prints the provider's bearer token."""

    command: str
    args: list[str] | None = None
    timeout_ms: int | None = Field(default=None, ge=1)
    refresh_interval_ms: int | None = Field(default=None, ge=0)
    cwd: str | None = None


class ModelProviderConfig(Strict):
    """A model provider entry under `[model_providers.<id>]` (retry counts above 100 are capped).

    ``wire_api = "chat"`` is accepted (newest Codex removed it; this product keeps Chat
    Completions for local and gateway servers). ``auth`` excludes the other credential sources.
    """

    name: str | None = None
    base_url: str | None = None
    env_key: str | None = None
    env_key_instructions: str | None = None
    experimental_bearer_token: str | None = None
    wire_api: Literal["responses", "chat"] | None = None
    query_params: dict[str, str] | None = None
    http_headers: dict[str, str] | None = None
    env_http_headers: dict[str, str] | None = None
    request_max_retries: int | None = Field(default=None, ge=0)
    stream_max_retries: int | None = Field(default=None, ge=0)
    stream_idle_timeout_ms: int | None = Field(default=None, ge=1)
    requires_openai_auth: bool | None = None
    auth: ModelProviderAuth | None = None
    aws: dict[str, Any] | None = None
    supports_websockets: bool | None = None
    websocket_connect_timeout_ms: int | None = None

    @model_validator(mode="after")
    def _checks(self, info: ValidationInfo) -> ModelProviderConfig:
        apply_model_check(self, info)
        return self


class ProjectEntry(Strict):
    trust_level: Literal["trusted", "untrusted"] | None = None


class NetworkConfig(Strict):
    """The `[network]` table: the managed proxy's user-side policy (clamped by requirements)."""

    enabled: bool | None = None
    mode: Literal["full", "limited"] | None = None
    domains: dict[str, Literal["allow", "deny", "none"]] | None = None
    allowed_domains: list[str] | None = None
    denied_domains: list[str] | None = None
    allow_local_binding: bool | None = None
    mitm: bool | None = None
    http_port: int | None = Field(default=None, ge=0, le=65535)
    socks_port: int | None = Field(default=None, ge=0, le=65535)
    allow_upstream_proxy: bool | None = None
    enable_socks5: bool | None = None
    enable_socks5_udp: bool | None = None
    dangerously_allow_non_loopback_proxy: bool | None = None
    proxy_url: str | None = None
    socks_url: str | None = None
    unix_sockets: dict[str, Literal["allow", "deny", "none"]] | None = None
    dangerously_allow_all_unix_sockets: bool | None = None


class AutoReviewConfig(Strict):
    """`[auto_review]`: the guardian auto-reviewer (codex_admin.guardian). Never from a project
    layer (see `PROJECT_DENYLIST`); `guardian_policy_config` in requirements beats `policy`."""

    policy: str | None = None  # replaces the built-in tenant policy text
    extra_policy: str | None = None  # appended to the tenant policy
    model: str | None = None  # the review model (default: the session's model)
    timeout_seconds: float | None = Field(default=None, gt=0, le=3600)


class Profile(Strict):
    """A legacy named profile `[profiles.NAME]`: overlays the merged files, below `-c`."""

    model: str | None = None
    model_provider: str | None = None
    approval_policy: ApprovalPolicy | None = None
    approvals_reviewer: ReviewerName | None = None
    sandbox_mode: SandboxModeName | None = None
    model_reasoning_effort: ReasoningEffort | None = None
    plan_mode_reasoning_effort: ReasoningEffort | None = None
    model_reasoning_summary: Literal["auto", "concise", "detailed", "none"] | None = None
    model_verbosity: Literal["low", "medium", "high"] | None = None
    service_tier: Literal["fast", "flex"] | None = None
    personality: str | None = None
    chatgpt_base_url: str | None = None
    model_instructions_file: str | None = None
    include_permissions_instructions: bool | None = None
    include_apps_instructions: bool | None = None
    include_environment_context: bool | None = None
    tools: dict[str, Any] | None = None
    web_search: WebSearchModeName | None = None
    features: dict[str, Any] | None = None
    windows: dict[str, Any] | None = None
    analytics: dict[str, Any] | None = None
    oss_provider: Literal["lmstudio", "ollama"] | None = None
    sandbox_workspace_write: SandboxWorkspaceWrite | None = None


class ConfigToml(Strict):
    """`config.toml` (user, project, system) and `managed_config.toml` / MDM managed config."""

    model: str | None = None
    review_model: str | None = None
    model_provider: str | None = None
    model_context_window: int | None = Field(default=None, ge=1)
    model_auto_compact_token_limit: int | None = None
    approval_policy: ApprovalPolicy | None = None
    approvals_reviewer: ReviewerName | None = None
    auto_review: AutoReviewConfig | None = None
    sandbox_mode: SandboxModeName | None = None
    sandbox_workspace_write: SandboxWorkspaceWrite | None = None
    default_permissions: str | None = None
    permissions: dict[str, Any] | None = None
    shell_environment_policy: ShellEnvironmentPolicy | None = None
    allow_login_shell: bool | None = None
    notify: list[str] | None = None
    instructions: str | None = None
    developer_instructions: str | None = None
    compact_prompt: str | None = None
    model_instructions_file: str | None = None
    experimental_compact_prompt_file: str | None = None
    experimental_instructions_file: str | None = None
    include_permissions_instructions: bool | None = None
    include_apps_instructions: bool | None = None
    include_environment_context: bool | None = None
    commit_attribution: str | None = None
    forced_chatgpt_workspace_id: str | list[str] | None = None
    forced_login_method: Literal["chatgpt", "api"] | None = None
    cli_auth_credentials_store: Literal["file", "keyring", "auto", "ephemeral"] | None = None
    mcp_servers: dict[str, McpServerConfig] | None = None
    mcp_oauth_credentials_store: Literal["auto", "file", "keyring"] | None = None
    mcp_oauth_callback_port: int | None = Field(default=None, ge=0, le=65535)
    mcp_oauth_callback_url: str | None = None
    model_providers: dict[str, ModelProviderConfig] | None = None
    oss_provider: Literal["lmstudio", "ollama"] | None = None
    project_doc_max_bytes: int | None = Field(default=None, ge=0)
    project_doc_fallback_filenames: list[str] | None = None
    project_root_markers: list[str] | None = None
    projects: dict[str, ProjectEntry] | None = None
    tool_output_token_limit: int | None = None
    background_terminal_max_timeout: int | None = None
    js_repl_node_path: str | None = None
    js_repl_node_module_dirs: list[str] | None = None
    zsh_path: str | None = None
    profile: str | None = None
    profiles: dict[str, Profile] | None = None
    history: dict[str, Any] | None = None
    sqlite_home: str | None = None
    log_dir: str | None = None
    file_opener: Literal["vscode", "vscode-insiders", "windsurf", "cursor", "none"] | None = None
    tui: dict[str, Any] | None = None
    hide_agent_reasoning: bool | None = None
    show_raw_agent_reasoning: bool | None = None
    model_reasoning_effort: ReasoningEffort | None = None
    plan_mode_reasoning_effort: ReasoningEffort | None = None
    model_reasoning_summary: Literal["auto", "concise", "detailed", "none"] | None = None
    model_verbosity: Literal["low", "medium", "high"] | None = None
    model_supports_reasoning_summaries: bool | None = None
    model_catalog_json: str | None = None
    personality: str | None = None
    service_tier: Literal["fast", "flex"] | None = None
    chatgpt_base_url: str | None = None
    openai_base_url: str | None = None
    web_search: WebSearchModeName | None = None
    tools: dict[str, Any] | None = None
    features: dict[str, Any] | None = None
    suppress_unstable_features_warning: bool | None = None
    agents: dict[str, Any] | None = None
    memories: dict[str, Any] | None = None
    skills: dict[str, Any] | None = None
    hooks: dict[str, Any] | None = None
    plugins: dict[str, Any] | None = None
    marketplaces: dict[str, Any] | None = None
    tool_suggest: dict[str, Any] | None = None
    apps: dict[str, Any] | None = None
    ghost_snapshot: dict[str, Any] | None = None
    check_for_update_on_startup: bool | None = None
    disable_paste_burst: bool | None = None
    analytics: dict[str, Any] | None = None
    feedback: dict[str, Any] | None = None
    otel: OtelConfig | None = None  # strict: unknown [otel] keys are errors, not warnings
    windows: dict[str, Any] | None = None
    notice: dict[str, Any] | None = None
    windows_wsl_setup_acknowledged: bool | None = None
    experimental_use_unified_exec_tool: bool | None = None
    experimental_use_freeform_apply_patch: bool | None = None
    audio: dict[str, Any] | None = None
    realtime: dict[str, Any] | None = None
    debug: dict[str, Any] | None = None
    network: NetworkConfig | None = None
