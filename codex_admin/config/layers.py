"""Config layers: what each one is, where it comes from, and how its paths resolve."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PROJECT_DENYLIST", "Layer", "resolve_paths"]

# Top-level keys a project layer may not set (spec config §1.4 item 9): they redirect traffic,
# credentials or telemetry, or pick profiles, so a cloned repository must not control them.
PROJECT_DENYLIST = (
    "openai_base_url",
    "chatgpt_base_url",
    "apps_mcp_product_sku",
    "model_provider",
    "model_providers",
    "notify",
    "profile",
    "profiles",
    "experimental_realtime_webrtc_call_base_url",
    "experimental_realtime_ws_base_url",
    "otel",
    # the auto-reviewer's policy text and model: a repository must not rewrite its own reviewer
    "auto_review",
)


@dataclass
class Layer:
    """One config layer. ``name`` is unique and is what origins refer to."""

    name: str
    kind: str  # system | user | project | managed_config | mdm | profile | session_flags
    path: Path | None
    table: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    disabled_reason: str | None = None
    exists: bool = True
    text: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "path": str(self.path) if self.path else None,
            "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
            "exists": self.exists,
        }


# Path-typed keys (resolved against the defining document's directory before merging).
_PATH_KEYS: tuple[tuple[str, ...], ...] = (
    ("sandbox_workspace_write", "writable_roots", "*"),
    ("model_instructions_file",),
    ("experimental_compact_prompt_file",),
    ("sqlite_home",),
    ("log_dir",),
    ("model_catalog_json",),
    ("js_repl_node_path",),
    ("js_repl_node_module_dirs", "*"),
    ("zsh_path",),
    ("mcp_servers", "*", "cwd"),
    ("model_providers", "*", "auth", "cwd"),
    ("profiles", "*", "model_instructions_file"),
    ("profiles", "*", "sandbox_workspace_write", "writable_roots", "*"),
)


def resolve_paths(table: dict[str, Any], base: Path) -> None:
    """Make path-typed values absolute (``~/`` expands to the home dir) in place."""
    for spec in _PATH_KEYS:
        _resolve(table, spec, base)


def _resolve(node: Any, spec: tuple[str, ...], base: Path) -> None:
    head, rest = spec[0], spec[1:]
    if head == "*":
        items: list[tuple[Any, Any]] = (
            list(enumerate(node))
            if isinstance(node, list)
            else list(node.items())
            if isinstance(node, dict)
            else []
        )
    elif isinstance(node, dict) and head in node:
        items = [(head, node[head])]
    else:
        return
    for key, value in items:
        if rest:
            _resolve(value, rest, base)
        elif isinstance(value, str) and value:
            node[key] = str(_absolute(value, base))


def _absolute(value: str, base: Path) -> Path:
    path = Path(value).expanduser() if value.startswith("~") else Path(value)
    return path if path.is_absolute() else base / path
