"""Cross-field rules of the file formats, shared by the pydantic models and the fast checker.

A JSON Schema cannot say "set `command` or `url`, not both", so these rules are plain functions
over the raw TOML table, keyed by the model (= JSON Schema ``$defs``) name. The pydantic models
call them from their validators and :mod:`.schema_check` calls them on the fast path, so both
paths enforce exactly the same rule from one definition.

They are *whole-table* rules: one config layer may hold a partial table (``-c
mcp_servers.docs.enabled=false`` over a user table that sets ``command``), so the loader applies
them to the merged configuration, not to each layer (see ``validation.validate_table``'s
``partial``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["DELEGATED_MODELS", "MODEL_CHECKS"]


def _mcp_server(table: Mapping[str, Any]) -> str | None:
    if table.get("bearer_token") is not None:
        return (
            "inline bearer_token is not supported; use bearer_token_env_var with the name of an"
            " environment variable"
        )
    has_command, has_url = table.get("command") is not None, table.get("url") is not None
    if not has_command and not has_url:
        return "invalid transport: set either command (stdio) or url (HTTP)"
    if has_command and has_url:
        return "invalid transport: set command or url, not both"
    return None


def _model_provider(table: Mapping[str, Any]) -> str | None:
    """A command-backed ``auth`` token excludes every other credential source (Codex)."""
    auth = table.get("auth")
    if auth is None:
        return None
    if isinstance(auth, Mapping) and not str(auth.get("command") or "").strip():
        return "provider auth.command must not be empty"
    conflicts = [name for name in ("env_key", "experimental_bearer_token") if table.get(name)]
    if table.get("requires_openai_auth"):
        conflicts.append("requires_openai_auth")
    if conflicts:
        return f"provider auth cannot be combined with {', '.join(conflicts)}"
    return None


def _mcp_identity(table: Mapping[str, Any]) -> str | None:
    if (table.get("command") is None) == (table.get("url") is None):
        return "identity needs exactly one of command or url"
    return None


def _otel(table: Mapping[str, Any]) -> str | None:
    """`[otel]` is validated in full by the telemetry package's own model (its endpoint, TLS
    and header rules live there). pydantic is imported only when an `[otel]` table exists --
    and then the telemetry SDK is about to be loaded anyway."""
    from pydantic import ValidationError

    from codex_admin.telemetry.otel_table import OtelConfig

    try:
        OtelConfig.model_validate(dict(table))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return f"otel.{where}: {first.get('msg')}" if where else f"otel: {first.get('msg')}"
    return None


# model / $defs name -> rule returning the problem (None when the table is fine)
MODEL_CHECKS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "McpServerConfig": _mcp_server,
    "ModelProviderConfig": _model_provider,
    "McpIdentity": _mcp_identity,
    "OtelConfig": _otel,
}

#: Models whose whole subtree their MODEL_CHECKS rule validates with the model itself, so their
#: inner validators need no separate rule.
DELEGATED_MODELS: frozenset[str] = frozenset({"OtelConfig"})
