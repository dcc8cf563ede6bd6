"""The catalogue of feature flags this product knows (`[features]` in config and requirements).

Requirements may pin flags; a pin for an unknown name is ignored with a warning (Codex's current
behaviour) so a requirements file written for a newer release does not take a fleet offline.
"""

from __future__ import annotations

__all__ = ["FEATURE_ALIASES", "KNOWN_FEATURES", "canonical_feature"]

# name -> default value
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

# legacy or alternative spellings accepted in requirements and config
FEATURE_ALIASES: dict[str, str] = {
    "auto_review": "guardian_approval",
    "codex_hooks": "hooks",
    "experimental_use_unified_exec_tool": "unified_exec",
    "experimental_use_freeform_apply_patch": "apply_patch_freeform",
    "include_apply_patch_tool": "apply_patch_freeform",
}


def canonical_feature(name: str) -> str | None:
    """The catalogue name for ``name`` (resolving aliases), or None when unknown."""
    name = FEATURE_ALIASES.get(name, name)
    return name if name in KNOWN_FEATURES else None
