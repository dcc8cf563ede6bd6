"""The tool definitions the model sees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codex_admin.apply_patch import (
    APPLY_PATCH_INSTRUCTIONS,
    PatchError,
    freeform_tool,
    function_tool,
    parse,
    patch_from_function_arguments,
    tool_spec,
)

CAPTURED = Path(__file__).parent / "fixtures" / "codex_0.169.0_freeform_tool.json"


def test_freeform_tool_is_byte_for_byte_codex() -> None:
    """Captured from Codex 0.169.0's Responses request (model gpt-5.5) to a local mock server."""
    assert freeform_tool() == json.loads(CAPTURED.read_text(encoding="utf-8"))
    assert tool_spec("freeform") == freeform_tool()


def test_function_tool_shape() -> None:
    spec = function_tool()
    assert spec["type"] == "function" and spec["name"] == "apply_patch"
    assert spec["strict"] is False
    assert spec["parameters"]["required"] == ["input"]
    assert spec["parameters"]["additionalProperties"] is False
    assert spec["description"] == APPLY_PATCH_INSTRUCTIONS
    assert tool_spec("function") == spec
    with pytest.raises(ValueError, match="unknown apply_patch tool type"):
        tool_spec("diff")


def test_instructions_example_is_a_valid_patch() -> None:
    example = APPLY_PATCH_INSTRUCTIONS.split("Example:\n\n", 1)[1].split("\n\nRules:", 1)[0]
    assert [type(h).__name__ for h in parse(example).hunks] == [
        "AddFile",
        "UpdateFile",
        "DeleteFile",
    ]


def test_function_arguments() -> None:
    assert patch_from_function_arguments('{"input": "*** Begin Patch"}') == "*** Begin Patch"
    for bad in ("not json", '{"patch": "x"}', '["input"]', '{"input": 3}'):
        with pytest.raises(PatchError, match="failed to parse function arguments"):
            patch_from_function_arguments(bad)
