"""The native shell parser never sees text it may crash on (tree-sitter-bash#337), and the rules
still read the script's real words.

Each crasher also runs in a child process: a segfault there is this test failing, not the suite
dying.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from codex_admin.bash_syntax import node_text, parse_bash, unparseable_reason

# `{` with a 4-byte UTF-8 character after it, adjacent or not; found by the suite's own
# hypothesis run (apply_patch detection) and by tree-sitter-bash#337.
CRASHERS = [
    "{\U0010387c",
    "a{\U0010ffff",
    "{\U000e0000",
    "apply_patchbashD{\U0010387c",
    "Õ÷\U000d561døkýva\x1büÞ{\U00055166\x1cl\x83(MPÌ¯",
    "echo {a,b} && printf '%s' 'x\U0001f600'",
    "{\udcff\udcfe\udcf8",  # undecodable argv bytes that cannot start a 4-byte sequence
]

CHILD = """
import sys
from codex_admin.apply_patch import detect_invocation
for _ in range(20):
    detect_invocation(["bash", "-lc", sys.argv[1]])
print("survived")
"""

RULES_CHILD = """
import json, sys
from codex_admin.execpolicy import PolicyParser, evaluate_exec
parser = PolicyParser()
parser.parse_source("t.rules", 'prefix_rule(pattern=["git", "push"], decision="forbidden")')
for _ in range(20):
    decision = evaluate_exec(parser.policy, ["bash", "-lc", sys.argv[1]])
print(json.dumps(decision.requirement.kind))
"""


def _child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("script", CRASHERS, ids=range(len(CRASHERS)))
def test_patch_detection_survives_a_crasher(script: str) -> None:
    child = _child(CHILD, script)
    assert child.returncode == 0 and "survived" in child.stdout, child.stderr[-400:]


@pytest.mark.parametrize(
    "script",
    [
        "git push --force \U0001f680",
        "echo {a,b} \U0001d538; git push origin",
        "cat <<'EOF'\n{\U0001d539\nEOF\ngit push",
    ],
)
def test_a_forbidden_command_beside_an_astral_character_stays_forbidden(script: str) -> None:
    child = _child(RULES_CHILD, script)
    assert child.returncode == 0, child.stderr[-400:]
    assert json.loads(child.stdout) == "forbidden"


def test_the_rules_see_the_real_characters_not_their_stand_ins() -> None:
    root = parse_bash("echo '\U0001f600' x\U0001d538y")
    assert root is not None and not root.has_error
    words = [node_text(n) for n in root.named_children[0].named_children[1:]]
    assert words == ["'\U0001f600'", "x\U0001d538y"]


def test_two_astral_characters_never_share_a_stand_in() -> None:
    """Distinct characters map to distinct pairs, so words that differ still differ."""
    root = parse_bash("[ \U0001d538 = \U0001d539 ] && echo \U0010ffff\U00010000")
    assert root is not None and not root.has_error
    text = node_text(root)
    assert text == "[ \U0001d538 = \U0001d539 ] && echo \U0010ffff\U00010000"


def test_ordinary_scripts_still_parse() -> None:
    for script in ["ls -la", "echo {a,b}", "echo 'héllo wörld ✓'", "cat <<'EOF'\nx\nEOF"]:
        root = parse_bash(script)
        assert root is not None and not root.has_error


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("a\0b", "NUL"),
        ("x" * 70_000, "longer than"),
        ("\ud800", "not valid UTF-8"),
        ("{\udcf0\udc9f", "U+DCF0"),  # an undecodable argv byte that starts a 4-byte sequence
        ("echo \ue000\ue400", "U+E000"),  # the stand-ins' own band
    ],
)
def test_what_cannot_be_mapped_is_not_analysable_and_says_why(script: str, reason: str) -> None:
    assert reason in str(unparseable_reason(script))
    assert parse_bash(script) is None
