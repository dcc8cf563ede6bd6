"""`codex config explain KEY`: every layer's value for a key, the winner, and its constraints."""

from __future__ import annotations

from typing import Any

from codex_admin.config.loader import ConfigResult
from codex_admin.config.merge import get_path, has_path
from codex_admin.config.toml_io import format_key, parse_key_path

__all__ = ["explain_key"]

# config key -> the requirement field that constrains it
_CONSTRAINED = {
    "approval_policy": "allowed_approval_policies",
    "approvals_reviewer": "allowed_approvals_reviewers",
    "sandbox_mode": "allowed_sandbox_modes",
    "web_search": "allowed_web_search_modes",
    "enforce_residency": "enforce_residency",
}
_PREFIX_CONSTRAINED = {
    "features": "features",
    "mcp_servers": "mcp_servers",
    "network": "experimental_network",
    "hooks": "hooks",
}


def explain_key(result: ConfigResult, key: str) -> dict[str, Any]:
    parts = parse_key_path(key)
    name = format_key(parts)
    layers = []
    for layer in reversed(result.layers):
        entry: dict[str, Any] = {
            "layer": layer.name,
            "path": str(layer.path) if layer.path else None,
            "enabled": layer.enabled,
        }
        if not layer.enabled:
            entry["disabled_reason"] = layer.disabled_reason
        elif has_path(layer.table, parts):
            entry["value"] = get_path(layer.table, parts)
        layers.append(entry)
    effective_set = has_path(result.config, parts)
    winner = _winner(result, name) if effective_set else None
    field = _CONSTRAINED.get(parts[0]) if len(parts) == 1 else _PREFIX_CONSTRAINED.get(parts[0])
    requirement = None
    if field and field in result.requirements:
        requirement = {
            "field": field,
            "value": result.requirements.value(field),
            "source": result.requirements.source(field),
        }
    resolved_key = parts[0] if len(parts) == 1 and parts[0] in result.resolved else None
    return {
        "key": name,
        "layers": layers,
        "effective": get_path(result.config, parts) if effective_set else None,
        "set": effective_set,
        "winner": winner,
        "resolved": result.resolved.get(resolved_key) if resolved_key else None,
        "resolved_source": result.resolved_sources.get(resolved_key) if resolved_key else None,
        "requirement": requirement,
        "fallback": result.fallbacks.get(parts[0]) if len(parts) == 1 else None,
    }


def _winner(result: ConfigResult, name: str) -> str | None:
    if name in result.origins:
        return result.origins[name]
    prefix = name + "."
    layers = {layer for key, layer in result.origins.items() if key.startswith(prefix)}
    order = [layer.name for layer in reversed(result.layers)]
    for layer_name in order:
        if layer_name in layers:
            return layer_name
    return None
