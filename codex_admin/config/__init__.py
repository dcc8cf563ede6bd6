"""Configuration engine: five config layers, requirements, MDM, trust, resolution, explanations.

Imports nothing else of ours except :mod:`codex_admin.errors` and :mod:`codex_admin.vocabulary`.
Exports are loaded on first use (like :mod:`codex_admin.execpolicy`): `codex config show` must
not pay for pydantic, which only the JSON Schemas and the messages of an invalid file need.

Module map:

* :mod:`.loader` -- :func:`load_config` (layer order in its docstring), :func:`trust_project`;
* :mod:`.files` -- the one safe reader (:func:`read_text_file`, :func:`read_file_bytes`:
  regular files only, bounded, optionally confined to a folder) and :func:`write_file_atomic`;
* :mod:`.project` and :mod:`.trust` -- project discovery, worktrees, trust records;
* :mod:`.validation`, :mod:`.schema_check`, :mod:`.checks` -- located issues, the fast
  checker over the generated JSON Schemas, the cross-field rules; :mod:`.models` and
  :mod:`.requirements_model` -- the pydantic models the schemas are generated from;
* :mod:`.requirements`, :mod:`.resolve`, :mod:`.features`, :mod:`.mdm`, :mod:`.explain`,
  :mod:`.validate`, :mod:`.merge`, :mod:`.overrides`, :mod:`.toml_io`, :mod:`.paths`.
"""

from typing import TYPE_CHECKING

from codex_admin.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from codex_admin.config.explain import explain_key
    from codex_admin.config.features import (
        CODEX_FEATURES,
        KNOWN_FEATURES,
        canonical_feature,
        feature_value_problem,
    )
    from codex_admin.config.files import (
        MAX_FILE_BYTES,
        is_within,
        read_file_bytes,
        read_text_file,
        write_file_atomic,
    )
    from codex_admin.config.layers import Layer
    from codex_admin.config.loader import (
        ConfigResult,
        LoadOptions,
        RequirementSource,
        TrustResult,
        load_config,
        trust_project,
    )
    from codex_admin.config.mdm import MdmPayload, mdm_key_warnings, read_mdm_plist
    from codex_admin.config.merge import get_value
    from codex_admin.config.models import (
        ConfigToml,
        ModelProviderAuth,
        ModelProviderConfig,
        NetworkConfig,
    )
    from codex_admin.config.overrides import parse_override, parse_overrides
    from codex_admin.config.paths import codex_home, system_dir
    from codex_admin.config.project import main_checkout
    from codex_admin.config.requirements import (
        REQUIREMENT_FIELDS,
        EffectiveRequirements,
        RequirementsDocument,
        RequirementValue,
        compose_requirements,
        parse_requirements,
    )
    from codex_admin.config.requirements_model import RequirementsToml
    from codex_admin.config.resolve import Flags
    from codex_admin.config.schema import SCHEMA_KINDS, json_schema, json_schema_text
    from codex_admin.config.schema_check import schema_problems
    from codex_admin.config.spelling import suggest
    from codex_admin.config.toml_io import (
        format_inline,
        format_key,
        locate_key,
        parse_key_path,
        parse_toml_text,
    )
    from codex_admin.config.trust import TRUST_STATE_NAME
    from codex_admin.config.validate import (
        KINDS,
        FileReport,
        ValidationReport,
        parse_config_document,
        validate_files,
    )
    from codex_admin.config.validation import ConfigValidationError, Issue

_EXPORTS = {
    "explain_key": "codex_admin.config.explain",
    "CODEX_FEATURES": "codex_admin.config.features",
    "KNOWN_FEATURES": "codex_admin.config.features",
    "canonical_feature": "codex_admin.config.features",
    "feature_value_problem": "codex_admin.config.features",
    "MAX_FILE_BYTES": "codex_admin.config.files",
    "is_within": "codex_admin.config.files",
    "read_file_bytes": "codex_admin.config.files",
    "read_text_file": "codex_admin.config.files",
    "write_file_atomic": "codex_admin.config.files",
    "Layer": "codex_admin.config.layers",
    "ConfigResult": "codex_admin.config.loader",
    "LoadOptions": "codex_admin.config.loader",
    "RequirementSource": "codex_admin.config.loader",
    "TrustResult": "codex_admin.config.loader",
    "load_config": "codex_admin.config.loader",
    "trust_project": "codex_admin.config.loader",
    "MdmPayload": "codex_admin.config.mdm",
    "mdm_key_warnings": "codex_admin.config.mdm",
    "read_mdm_plist": "codex_admin.config.mdm",
    "get_value": "codex_admin.config.merge",
    "ConfigToml": "codex_admin.config.models",
    "ModelProviderAuth": "codex_admin.config.models",
    "ModelProviderConfig": "codex_admin.config.models",
    "NetworkConfig": "codex_admin.config.models",
    "parse_override": "codex_admin.config.overrides",
    "parse_overrides": "codex_admin.config.overrides",
    "codex_home": "codex_admin.config.paths",
    "system_dir": "codex_admin.config.paths",
    "main_checkout": "codex_admin.config.project",
    "REQUIREMENT_FIELDS": "codex_admin.config.requirements",
    "EffectiveRequirements": "codex_admin.config.requirements",
    "RequirementsDocument": "codex_admin.config.requirements",
    "RequirementValue": "codex_admin.config.requirements",
    "compose_requirements": "codex_admin.config.requirements",
    "parse_requirements": "codex_admin.config.requirements",
    "RequirementsToml": "codex_admin.config.requirements_model",
    "Flags": "codex_admin.config.resolve",
    "SCHEMA_KINDS": "codex_admin.config.schema",
    "json_schema": "codex_admin.config.schema",
    "json_schema_text": "codex_admin.config.schema",
    "schema_problems": "codex_admin.config.schema_check",
    "suggest": "codex_admin.config.spelling",
    "format_inline": "codex_admin.config.toml_io",
    "format_key": "codex_admin.config.toml_io",
    "locate_key": "codex_admin.config.toml_io",
    "parse_toml_text": "codex_admin.config.toml_io",
    "parse_key_path": "codex_admin.config.toml_io",
    "TRUST_STATE_NAME": "codex_admin.config.trust",
    "KINDS": "codex_admin.config.validate",
    "FileReport": "codex_admin.config.validate",
    "ValidationReport": "codex_admin.config.validate",
    "parse_config_document": "codex_admin.config.validate",
    "validate_files": "codex_admin.config.validate",
    "ConfigValidationError": "codex_admin.config.validation",
    "Issue": "codex_admin.config.validation",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "CODEX_FEATURES",
    "KINDS",
    "KNOWN_FEATURES",
    "MAX_FILE_BYTES",
    "REQUIREMENT_FIELDS",
    "SCHEMA_KINDS",
    "TRUST_STATE_NAME",
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
    "TrustResult",
    "ValidationReport",
    "canonical_feature",
    "codex_home",
    "compose_requirements",
    "explain_key",
    "feature_value_problem",
    "format_inline",
    "format_key",
    "get_value",
    "is_within",
    "json_schema",
    "json_schema_text",
    "load_config",
    "locate_key",
    "main_checkout",
    "mdm_key_warnings",
    "parse_config_document",
    "parse_key_path",
    "parse_override",
    "parse_overrides",
    "parse_requirements",
    "parse_toml_text",
    "read_file_bytes",
    "read_mdm_plist",
    "read_text_file",
    "schema_problems",
    "suggest",
    "system_dir",
    "trust_project",
    "validate_files",
    "write_file_atomic",
]
