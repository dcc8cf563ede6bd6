"""JSON Schemas generated from the pydantic models (`codex config schema`)."""

from __future__ import annotations

import json
from typing import Any

from codex_admin.config.models import ConfigToml
from codex_admin.config.requirements_model import RequirementsToml

__all__ = ["SCHEMA_KINDS", "json_schema", "json_schema_text"]

SCHEMA_KINDS = ("config", "requirements")


def json_schema(kind: str) -> dict[str, Any]:
    model = ConfigToml if kind == "config" else RequirementsToml
    schema = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "config.toml" if kind == "config" else "requirements.toml"
    return schema


def json_schema_text(kind: str) -> str:
    """Stable text (sorted keys, trailing newline) so generated files diff cleanly."""
    return json.dumps(json_schema(kind), indent=2, sort_keys=True) + "\n"
