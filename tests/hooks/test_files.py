"""The hooks file grammar and safe reading (located errors, symlinks, FIFOs, size cap)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.hooks.files import (
    MAX_HOOKS_FILE_BYTES,
    parse_hooks_json,
    read_config_file,
)
from codex_admin.vocabulary import HookEventName


def test_full_shape_parses_in_order() -> None:
    text = json.dumps(
        {
            "description": "team hooks",
            "hooks": {
                "PreToolUse": [
                    {
                        "matcher": "Bash",
                        "hooks": [{"type": "command", "command": "a", "timeout": 5}],
                    },
                    {
                        "hooks": [
                            {"command": "b", "timeoutSec": 7, "async": True, "statusMessage": "s"}
                        ]
                    },
                ],
                "Stop": [{"hooks": [{"command": "c"}, {"command": "d"}]}],
            },
        }
    )
    handlers, warnings = parse_hooks_json(text, "h.json")
    assert warnings == []
    assert [(h.event, h.group_index, h.handler_index, h.command) for h in handlers] == [
        (HookEventName.PRE_TOOL_USE, 0, 0, "a"),
        (HookEventName.PRE_TOOL_USE, 1, 0, "b"),
        (HookEventName.STOP, 0, 0, "c"),
        (HookEventName.STOP, 0, 1, "d"),
    ]
    assert handlers[0].matcher == "Bash" and handlers[0].timeout == 5
    assert handlers[1].timeout == 7 and handlers[1].is_async and handlers[1].status_message == "s"
    assert handlers[2].timeout == 600  # default
    assert handlers[2].matcher is None


def test_timeout_minimum_is_one_second() -> None:
    handlers, _ = parse_hooks_json(
        '{"hooks": {"Stop": [{"hooks": [{"command": "x", "timeout": 0.2}]}]}}', "h"
    )
    assert handlers[0].timeout == 1


def test_unknown_root_key_rejects_file_with_location() -> None:
    text = '{\n  "hooks": {},\n  "hookz": {}\n}\n'
    with pytest.raises(CodexError) as info:
        parse_hooks_json(text, "/x/hooks.json")
    assert "unknown root key `hookz`" in str(info.value)
    assert info.value.location is not None and info.value.location.line == 3


def test_invalid_json_is_located() -> None:
    with pytest.raises(CodexError) as info:
        parse_hooks_json('{"hooks": {\n  "Stop": [,]\n}}', "/x/hooks.json")
    assert info.value.location is not None and info.value.location.line == 2
    assert "invalid JSON" in info.value.message


@pytest.mark.parametrize(
    ("handler", "needle"),
    [
        ({"command": 3}, "must be a string"),
        ({"command": "x", "timeout": -1}, "positive number"),
        ({"command": "x", "timeout": True}, "positive number"),
        ({"command": "x", "async": "yes"}, "true or false"),
        ({"command": "x", "timeout": 1, "timeoutSec": 2}, "both"),
    ],
)
def test_wrong_types_are_errors(handler: dict[str, object], needle: str) -> None:
    text = json.dumps({"hooks": {"PreToolUse": [{"hooks": [handler]}]}}, indent=1)
    with pytest.raises(CodexError) as info:
        parse_hooks_json(text, "/x/hooks.json")
    assert needle in str(info.value)
    assert info.value.location is not None and info.value.location.line is not None


def test_events_must_be_arrays() -> None:
    with pytest.raises(CodexError, match="array of matcher groups"):
        parse_hooks_json('{"hooks": {"Stop": {"hooks": []}}}', "h")


def test_lenient_parts_warn() -> None:
    text = json.dumps(
        {
            "hooks": {
                "Notification": [{"hooks": [{"command": "x"}]}],
                "Stop": [
                    {
                        "matcher": "ignored",
                        "extra": 1,
                        "hooks": [
                            {"type": "prompt", "prompt": "judge"},
                            {"type": "command", "command": "  "},
                            {"command": "ok", "colour": "red"},
                        ],
                    }
                ],
            }
        }
    )
    handlers, warnings = parse_hooks_json(text, "h")
    assert [h.command for h in handlers] == ["ok"]
    text_w = "\n".join(warnings)
    assert "unknown hook event `Notification`" in text_w
    assert "unknown key `extra`" in text_w
    assert "skipping `prompt` hook handler" in text_w
    assert "empty command" in text_w
    assert "unknown key `colour`" in text_w


def test_read_follows_symlink_inside_folder(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_text("{}")
    (tmp_path / "hooks.json").symlink_to("real.json")
    assert read_config_file(tmp_path, "hooks.json") == "{}"


def test_symlink_out_of_folder_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"hooks": {}}')
    folder = tmp_path / "repo" / ".codex"
    folder.mkdir(parents=True)
    (folder / "hooks.json").symlink_to(secret)
    with pytest.raises(CodexError, match="outside"):
        read_config_file(folder, "hooks.json")


def test_dangling_parent_escape_refused(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "hooks.json").symlink_to("../elsewhere.json")
    with pytest.raises(CodexError, match="outside"):
        read_config_file(folder, "hooks.json")


@pytest.mark.timeout(10)
def test_fifo_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "hooks.json")
    with pytest.raises(CodexError, match="not a regular file"):
        read_config_file(tmp_path, "hooks.json")


def test_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "hooks.json").mkdir()
    with pytest.raises(CodexError):
        read_config_file(tmp_path, "hooks.json")


def test_size_cap(tmp_path: Path) -> None:
    (tmp_path / "hooks.json").write_bytes(b" " * (MAX_HOOKS_FILE_BYTES + 1))
    with pytest.raises(CodexError, match="larger than"):
        read_config_file(tmp_path, "hooks.json")


def test_missing_is_none(tmp_path: Path) -> None:
    assert read_config_file(tmp_path, "hooks.json") is None
    assert read_config_file(tmp_path / "nope", "hooks.json") is None


def test_bad_utf8_is_located(tmp_path: Path) -> None:
    (tmp_path / "hooks.json").write_bytes(b'{\n "x": "\xff"}')
    with pytest.raises(CodexError) as info:
        read_config_file(tmp_path, "hooks.json")
    assert info.value.location is not None and info.value.location.line == 2


def test_deeply_nested_json_is_an_error_not_a_crash() -> None:
    with pytest.raises(CodexError, match="nested too deeply"):
        parse_hooks_json("[" * 200_000, "/x/hooks.json")
