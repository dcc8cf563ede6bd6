"""Amend (spec §5): Codex's line format, de-duplication, newline handling and locking."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codex_admin.errors import CodexError
from codex_admin.execpolicy import (
    Decision,
    append_allow_prefix_rule,
    append_network_rule,
    load_policy_files,
)


def test_prefix_line_format_and_dedup(tmp_path: Path) -> None:
    target = tmp_path / "rules" / "default.rules"  # parent created (one level)
    assert append_allow_prefix_rule(target, ["npm", "run", "test"]) is True
    assert append_allow_prefix_rule(target, ["npm", "run", "test"]) is False
    assert target.read_text() == 'prefix_rule(pattern=["npm", "run", "test"], decision="allow")\n'


def test_missing_final_newline_is_added_first(tmp_path: Path) -> None:
    target = tmp_path / "x.rules"
    target.write_text('prefix_rule(pattern=["ls"])')
    append_allow_prefix_rule(target, ["pwd"])
    assert target.read_text() == (
        'prefix_rule(pattern=["ls"])\nprefix_rule(pattern=["pwd"], decision="allow")\n'
    )


def test_network_line_format_and_validation(tmp_path: Path) -> None:
    target = tmp_path / "n.rules"
    append_network_rule(target, "  api.example.com ", "https", "allow", 'say "hi"')
    append_network_rule(target, "evil.example.com", "http", "deny")
    assert target.read_text().splitlines() == [
        'network_rule(host="api.example.com", protocol="https", decision="allow", '
        'justification="say \\"hi\\"")',
        'network_rule(host="evil.example.com", protocol="http", decision="deny")',
    ]
    policy = load_policy_files([target])
    assert policy.compiled_network_domains() == (["api.example.com"], ["evil.example.com"])
    for args, message in [
        ((" ", "http", "allow"), "network rule host cannot be empty"),
        (("a.com", "socks5_tcp", "allow"), "network rule protocol must be http or https"),
        (("a.com", "http", "prompt"), "network rule decision must be allow, deny, or ask"),
    ]:
        with pytest.raises(CodexError, match=message):
            append_network_rule(target, *args)


def test_empty_prefix_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(CodexError, match="prefix rule requires at least one token"):
        append_allow_prefix_rule(tmp_path / "x.rules", [])


def test_hostile_tokens_round_trip_as_literals(tmp_path: Path) -> None:
    """A token cannot break out of the generated call (quotes, newlines, NUL, Starlark code)."""
    target = tmp_path / "x.rules"
    nasty = [
        'ev"il',
        "a\nprefix_rule(pattern=['rm'])",
        "\\",
        "\0",
        'x"), prefix_rule(pattern=["rm"]',
    ]
    append_allow_prefix_rule(target, ["tool", *nasty])
    assert len(target.read_text().splitlines()) == 1
    policy = load_policy_files([target])
    assert list(policy.rules_by_program) == ["tool"]
    assert policy.check(["tool", *nasty]).decision is Decision.ALLOW
    assert policy.check(["rm"]).decision is None


def test_concurrent_writers_neither_lose_nor_duplicate(tmp_path: Path) -> None:
    target = tmp_path / "default.rules"
    code = (
        "import sys\n"
        "from codex_admin.execpolicy import append_allow_prefix_rule\n"
        "for i in range(25):\n"
        "    append_allow_prefix_rule(sys.argv[1], ['cmd', str(i % 10), sys.argv[2]])\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(target), str(n % 2)]) for n in range(4)
    ]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    lines = target.read_text().splitlines()
    assert len(lines) == len(set(lines)) == 20


def test_unwritable_parent_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CodexError, match="parent directory does not exist"):
        append_allow_prefix_rule(tmp_path / "a" / "b" / "x.rules", ["ls"])
