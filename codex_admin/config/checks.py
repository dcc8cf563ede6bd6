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

__all__ = ["MODEL_CHECKS"]


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
    if table.get("wire_api") == "chat":
        return 'wire_api = "chat" is no longer supported; use wire_api = "responses"'
    return None


def _mcp_identity(table: Mapping[str, Any]) -> str | None:
    if (table.get("command") is None) == (table.get("url") is None):
        return "identity needs exactly one of command or url"
    return None


# model / $defs name -> rule returning the problem (None when the table is fine)
MODEL_CHECKS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "McpServerConfig": _mcp_server,
    "ModelProviderConfig": _model_provider,
    "McpIdentity": _mcp_identity,
}
