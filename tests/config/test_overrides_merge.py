from __future__ import annotations

import pytest

from codex_admin.config import parse_override, parse_overrides
from codex_admin.config.merge import merge_into
from codex_admin.errors import CodexError


@pytest.mark.parametrize(
    ("arg", "key", "value"),
    [
        ("model=o3", ["model"], "o3"),
        ('model="o3"', ["model"], "o3"),
        ("model='o3'", ["model"], "o3"),
        ("x=42", ["x"], 42),
        ("x=true", ["x"], True),
        ("x=[1,2]", ["x"], [1, 2]),
        ("x={a=1,b=2}", ["x"], {"a": 1, "b": 2}),
        ("x=a=b", ["x"], "a=b"),
        ("x=", ["x"], ""),
        ('x={"a": 1}', ["x"], '{"a": 1}'),
        (" a.b.c = 1 ", ["a", "b", "c"], 1),
        (
            "sandbox_workspace_write.writable_roots=['/a']",
            ["sandbox_workspace_write", "writable_roots"],
            ["/a"],
        ),
    ],
)
def test_parse_override_follows_codex(arg: str, key: list[str], value: object) -> None:
    assert parse_override(arg) == (key, value)


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("model", "Invalid override (missing '='): model"),
        ("=x", "Empty key in override: =x"),
        ("a..b=1", "Empty key segment"),
    ],
)
def test_parse_override_errors(arg: str, message: str) -> None:
    with pytest.raises(CodexError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_override(arg)


def test_later_overrides_win_and_non_tables_are_replaced() -> None:
    table = parse_overrides(["a=1", "a.b=2", "model=x", "model=y"])
    assert table == {"a": {"b": 2}, "model": "y"}


def test_merge_recurses_tables_and_replaces_everything_else() -> None:
    base = {"t": {"a": 1, "b": [1, 2]}, "s": "x", "arr": [1, 2, 3]}
    origins: dict[str, str] = {}
    merge_into(base, base.copy(), origins, "low")
    merge_into(base, {"t": {"b": [9]}, "arr": [], "s": {"now": "table"}}, origins, "high")
    assert base == {"t": {"a": 1, "b": [9]}, "s": {"now": "table"}, "arr": []}
    assert origins["t.a"] == "low"
    assert origins["t.b.0"] == "high"
    assert "t.b.1" not in origins
    assert origins["arr"] == "high"
    assert origins["s.now"] == "high"
    assert "s" not in origins


def test_empty_overlay_table_merges_nothing() -> None:
    base = {"mcp_servers": {"a": {"command": "x"}}}
    origins = {"mcp_servers.a.command": "user"}
    merge_into(base, {"mcp_servers": {}}, origins, "session_flags")
    assert base == {"mcp_servers": {"a": {"command": "x"}}}
    assert origins == {"mcp_servers.a.command": "user"}


def test_origin_keys_quote_non_bare_segments() -> None:
    origins: dict[str, str] = {}
    merge_into({}, {"projects": {"/a.b": {"trust_level": "trusted"}}}, origins, "user")
    assert origins == {'projects."/a.b".trust_level': "user"}
