"""Configuration engine: five config layers, requirements, MDM, resolution and explanations.

Imports nothing else of ours except :mod:`codex_admin.errors`. See `loader.py` for the layer order.
"""

from codex_admin.config.explain import explain_key
from codex_admin.config.features import KNOWN_FEATURES
from codex_admin.config.layers import Layer
from codex_admin.config.loader import ConfigResult, LoadOptions, RequirementSource, load_config
from codex_admin.config.mdm import MdmPayload, read_mdm_plist
from codex_admin.config.merge import get_value
from codex_admin.config.models import (
    ConfigToml,
    ModelProviderAuth,
    ModelProviderConfig,
    NetworkConfig,
)
from codex_admin.config.overrides import parse_override, parse_overrides
from codex_admin.config.paths import codex_home, system_dir
from codex_admin.config.requirements import (
    EffectiveRequirements,
    RequirementsDocument,
    RequirementValue,
    compose_requirements,
    parse_requirements,
)
from codex_admin.config.requirements_model import REQUIREMENT_FIELDS, RequirementsToml
from codex_admin.config.resolve import Flags
from codex_admin.config.schema import SCHEMA_KINDS, json_schema, json_schema_text
from codex_admin.config.toml_io import format_key, locate_key, parse_key_path, read_text_file
from codex_admin.config.validate import (
    KINDS,
    FileReport,
    ValidationReport,
    parse_config_document,
    validate_files,
)
from codex_admin.config.validation import ConfigValidationError, Issue

__all__ = [
    "KINDS",
    "KNOWN_FEATURES",
    "REQUIREMENT_FIELDS",
    "SCHEMA_KINDS",
    "ConfigResult",
    "ConfigToml",
    "ConfigValidationError",
    "EffectiveRequirements",
    "FileReport",
    "Flags",
    "Issue",
    "Layer",
    "LoadOptions",
    "MdmPayload",
    "ModelProviderAuth",
    "ModelProviderConfig",
    "NetworkConfig",
    "RequirementSource",
    "RequirementValue",
    "RequirementsDocument",
    "RequirementsToml",
    "ValidationReport",
    "codex_home",
    "compose_requirements",
    "explain_key",
    "format_key",
    "get_value",
    "json_schema",
    "json_schema_text",
    "load_config",
    "locate_key",
    "parse_config_document",
    "parse_key_path",
    "parse_override",
    "parse_overrides",
    "parse_requirements",
    "read_mdm_plist",
    "read_text_file",
    "system_dir",
    "validate_files",
]
