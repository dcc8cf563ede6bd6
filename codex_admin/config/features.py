"""Feature flags (`[features]` in config and requirements): the ONE catalogue of known names.

Two lists live here and nowhere else:

* :data:`KNOWN_FEATURES` -- the flags this product acts on, with their defaults (what
  ``config show`` resolves);
* :data:`CODEX_FEATURES` -- every flag Codex CLI 0.169.0 knows (``codex features list``: name,
  stage, default), so a config or requirements file written for Codex validates here and a
  requirements pin such as ``personality = false`` is kept instead of being dropped as unknown.

A flag's value is a boolean; the flags in :data:`TABLE_FEATURES` may also be a table with an
``enabled`` boolean (Codex's ``[features.network_proxy]`` form). How a bad value is treated
depends on who wrote it: in config it is a warning and the value is ignored (the user's own
file must not stop the CLI), in requirements it is an error (requirements fail closed). An
unknown name warns with the closest known names; requirements drop the pin, config keeps the
key (Codex preserves keys it does not know) but it has no effect.
"""

from __future__ import annotations

from codex_admin.config.spelling import suggest

__all__ = [
    "CODEX_FEATURES",
    "FEATURE_ALIASES",
    "KNOWN_FEATURES",
    "TABLE_FEATURES",
    "canonical_feature",
    "feature_suggestion",
    "feature_value_problem",
]

# The flags this product reads, name -> default.
KNOWN_FEATURES: dict[str, bool] = {
    "apply_patch_freeform": False,
    "apps": True,
    "exec_policy": True,
    "guardian_approval": False,
    "hooks": True,
    "js_repl": False,
    "memories": False,
    "multi_agent": False,
    "network_proxy": False,
    "plugins": True,
    "respect_system_proxy": False,
    "shell_snapshot": False,
    "shell_tool": True,
    "skills": True,
    "tool_suggest": False,
    "undo": False,
    "unified_exec": False,
    "use_legacy_landlock": False,
    "view_image_tool": True,
    "web_search_request": False,
}

# Legacy or alternative spellings accepted in requirements and config.
FEATURE_ALIASES: dict[str, str] = {
    "auto_review": "guardian_approval",
    "codex_hooks": "hooks",
    "experimental_use_unified_exec_tool": "unified_exec",
    "experimental_use_freeform_apply_patch": "apply_patch_freeform",
    "include_apply_patch_tool": "apply_patch_freeform",
}

# Flags that may also be written as a table (`[features.network_proxy] enabled = true ...`).
TABLE_FEATURES = frozenset({"network_proxy", "multi_agent_v2"})

# `codex features list` of Codex CLI 0.169.0, grouped by (stage, default).
_CODEX_CATALOGUE: dict[tuple[str, bool], str] = {
    ("stable", True): """
        api_key_cyber_access_programs api_key_model_discovery apps auth_elicitation
        bedrock_setup_wizard browser_annotation_api browser_use browser_use_external
        browser_use_full_cdp_access cli_daybreak code_mode_host code_mode_host_grpc
        code_mode_host_output_truncation code_mode_interrupt compaction_image_budget
        computer_use content_item_kinds daemon_auto_start deferred_tool_world_state
        enable_request_compression fast_mode goals guardian_approval
        guardian_include_additional_context guardian_reuse_parent_compaction hooks
        image_generation in_app_browser in_app_chat in_app_dictation in_app_local_automation
        in_app_updates in_app_voice incremental_tools incremental_tools_legacy_gcp
        mcp_oauth_refresh_coordination mentions_v2 plugin_sharing plugins
        prediction_preserve_parent_tools reasoning_effort_override remote_plugin
        retain_client_tool_outputs shell_snapshot shell_tool skill_mcp_dependency_install
        skill_search sleep_tool system_proxy_fallback tool_call_mcp_elicitation tool_suggest
        ultrafast_mode unbounded_connection_retries unified_exec unified_exec_tty
        unified_image_budget untrusted_as_tool_output view_image workspace_dependencies
        write_stdin_approval
    """,
    ("stable", False): """
        gateway_setup_wizard gcp_setup_wizard incremental_tools_legacy memories multi_agent_v2
        recommended_plugins secret_auth_storage suppress_model_change_announcements
    """,
    ("experimental", False): """
        analytics_plan_history login_shell_package_path network_proxy prevent_idle_sleep
        respect_system_proxy
    """,
    ("under development", False): """
        agent_message_board agent_message_board_mcp app_server_websocket_compression
        apply_patch_streaming_events apps_early_resource_discovery artifact async_compaction
        async_compaction_root_only background_paginated_rollout_migration chronicle
        cli_resume_account_check code_mode code_mode_only code_mode_only_strict_3p_tools
        code_mode_prewarm code_mode_tool_search codex_apps_mcp_2026_07_28
        command_sessions_world_state concurrent_reasoning_summaries context_management
        credential_masking critical_path_timing current_time_reminder cwd_relative_turn_diffs
        daybreak_program_propagation default_mode_request_user_input defer_mailbox_preemption
        deferred_executor enable_mcp_apps exec_permission_approvals executed_tool_call_metadata
        executor_capability_discovery executor_capability_discovery_v2
        external_agent_memory_import guardian_conversation_history_tools
        guardian_denial_reconsideration guardian_enhanced_node_repl_transcripts
        guardian_native_multi_agent_history guardian_node_repl_transcript_images
        guardian_recorded_items guardian_root_handoff_context
        guardian_trust_orchestrator_connectors guardianv2 guardianv2_decisions_comparison
        guardianv3 hosted_search_policy image_generation_animation image_resize_notice
        incremental_exec_tools interrupt_on_cancel local_thread_store_compression mcp_2026_07_28
        mcp_connection_sharing mcp_lazy_stdio_startup mcp_tool_list_changed
        model_catalog_in_context multi_agent_v2_dynamic_tools multi_env_copy_file
        non_prefixed_mcp_tool_names nonfatal_clock_read_errors
        omit_app_server_notification_media omit_skill_descriptions output_token_replay
        powershell_shell_version prefer_mxc psp request_permissions_tool
        retain_client_developer_messages rollout_budget runtime_agent_instances runtime_metrics
        send_message_to_user_async shell_snapshot_v2 simplified_selection_hints
        skill_catalog_deltas skip_host_skill_discovery standalone_web_search
        step_model_switching subagent_default_context_limits subagent_thread_environments
        terminal_visualization_instructions token_budget tui_extensions_statusline
        tui_multi_backend tui_workspace use_agent_identity use_xaa wake_on_agent_messages
        windows_sandbox_service
    """,
    ("under development", True): """
        instant_interrupt
    """,
    ("deprecated", True): """
        multi_agent
    """,
    ("deprecated", False): """
        use_legacy_landlock web_search_cached web_search_request
    """,
    ("removed", True): """
        collaboration_modes item_ids realtime_conversation resize_all_images sqlite steer
        terminal_resize_reflow tool_search_always_defer_mcp_tools tui_app_server worktrees
    """,
    ("removed", False): """
        apply_patch_freeform apply_patch_preserve_line_endings apps_mcp_path_override
        code_mode_buffered_exec code_mode_tool_description_first codex_git_commit
        elevated_windows_sandbox enable_fanout experimental_windows_sandbox external_migration
        guardian_ext guardianv2.thread_context image_detail_original js_repl js_repl_tools_only
        local_thread_store_shared_compression multi_agent_mode personality
        plugin_discovery_prefetch plugin_hooks remote_compaction_v2 remote_control remote_models
        request_rule responses_websockets responses_websockets_v2 search_tool send_async_message
        shell_zsh_fork skill_env_var_dependency_prompt stable_environment_tools tool_search
        transcript_v2 unavailable_dummy_tools undo unified_exec_zsh_fork use_linux_sandbox_bwrap
        workspace_owner_usage_nudge
    """,
}

CODEX_FEATURES: dict[str, tuple[str, bool]] = {
    name: key for key, names in _CODEX_CATALOGUE.items() for name in names.split()
}

_ALL_NAMES = frozenset(KNOWN_FEATURES) | frozenset(CODEX_FEATURES)


def canonical_feature(name: str) -> str | None:
    """The catalogue name for ``name`` (resolving aliases), or None when unknown."""
    name = FEATURE_ALIASES.get(name, name)
    return name if name in _ALL_NAMES else None


def feature_value_problem(name: str, value: object) -> str | None:
    """Why ``value`` is not a valid setting for feature ``name`` (None when it is)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, dict) and name in TABLE_FEATURES:
        enabled = value.get("enabled", True)
        return None if isinstance(enabled, bool) else "`enabled` inside it must be true or false"
    shape = "true, false or a table" if name in TABLE_FEATURES else "true or false"
    return f"must be {shape} (got {_type_name(value)})"


def feature_suggestion(name: str) -> str:
    """A "did you mean" for an unknown feature name."""
    return suggest(name, [*_ALL_NAMES, *FEATURE_ALIASES])


def _type_name(value: object) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__
