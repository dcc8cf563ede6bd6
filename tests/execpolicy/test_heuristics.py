"""Known-safe (spec §11) and dangerous-command (spec §12) tables, verbatim from the spec."""

from __future__ import annotations

import sys

import pytest

from codex_admin.execpolicy import is_known_safe_command, might_be_dangerous

SAFE = [
    (["ls"], True),
    (["base64"], True),
    (["sed", "-n", "1,5p", "file.txt"], True),
    (["nl", "-nrz", "Cargo.toml"], True),
    (["find", ".", "-name", "file.txt"], True),
    (["foo"], False),
    (["git", "fetch"], False),
    (["sed", "-n", "xp", "file.txt"], False),
    (["find", ".", "-name", "file.txt", "-exec", "rm", "{}", ";"], False),
    (["find", ".", "-delete", "-name", "file.txt"], False),
    (["find", ".", "-fprint", "/etc/passwd"], False),
    (["base64", "-o", "out.bin"], False),
    (["base64", "--output=out.bin"], False),
    (["base64", "-ob64.txt"], False),
    (["rg", "Cargo.toml", "-n"], True),
    (["rg", "-z", "files"], False),
    (["rg", "--pre=pwned", "files"], False),
    (["rg", "--hostname-bin", "pwned", "files"], False),
    (["cargo", "check"], False),
    (["git", "status"], False),
    (["./cat", "Cargo.toml"], False),
    (["../cat", "Cargo.toml"], False),
    (["/tmp/workspace/cat", "Cargo.toml"], False),
    (["cat", "Cargo.toml"], True),
    (["zsh", "-lc", "ls"], True),
    (["bash", "-lc", "ls -1"], True),
    (["bash", "-lc", 'grep -R "Cargo.toml" -n'], True),
    (["bash", "-lc", "sed -n '1,5p' file.txt"], True),
    (["bash", "-lc", "find . -name file.txt"], True),
    (["bash", "-lc", 'grep -R "Cargo.toml" -n || true'], True),
    (["bash", "-lc", "ls && pwd"], True),
    (["bash", "-lc", "echo 'hi' ; ls"], True),
    (["bash", "-lc", "ls | wc -l"], True),
    (["bash", "-lc", "git status"], False),
    (["bash", "-lc", "git", "status"], False),
    (["bash", "-lc", "'git status'"], False),
    (["bash", "-lc", "find . -name file.txt -delete"], False),
    (["bash", "-lc", "ls && rm -rf /"], False),
    (["bash", "-lc", "(ls)"], False),
    (["bash", "-lc", "ls || (pwd && echo hi)"], False),
    (["bash", "-lc", "ls > out.txt"], False),
    (["bash", "-lc", "./cat Cargo.toml"], False),
    # extras
    (["bash", "-lc", ""], False),
    (["sed", "-n", "1p", "a", "b"], False),
    ([], False),
]

DANGEROUS = [
    (["rm", "-rf", "/"], True),
    (["rm", "-f", "/"], True),
    (["/bin/rm", "-fr", "/tmp/example"], True),
    (["rm", "-r", "-f", "/tmp/example"], True),
    (["rm", "--force", "/tmp/example"], True),
    (["rm", "/tmp/example", "-f"], True),
    (["sudo", "rm", "-rf", "/tmp/example"], True),
    (["bash", "-lc", "printf x | rm -rf /tmp/example"], True),
    (["bash", "-lc", "if test -d /tmp/example; then rm --force /tmp/example; fi"], True),
    (["bash", "-lc", 'rm -rf "$TARGET" >/dev/null'], True),
    (["bash", "-lc", 'for target in /tmp/a /tmp/b; do rm -r -f "$target"; done'], True),
    (["bash", "-lc", 'echo "$(rm -rf /tmp/example)"'], True),
    (["rm", "-r", "/tmp/example"], False),
    (["rm", "--", "-f"], False),
    (["bash", "-lc", "echo 'rm -rf /tmp/example'"], False),
    (["bash", "-lc", "cmd=rm; $cmd -rf /tmp/example"], False),
    (["bash", "-lc", "if then rm -rf /tmp/example"], False),
    # extras
    (["sudo", "sudo", "rm", "-f", "x"], True),
    (["sudo"], False),
    ([], False),
]


@pytest.mark.parametrize(("argv", "expected"), SAFE)
def test_known_safe_table(argv: list[str], expected: bool) -> None:
    assert is_known_safe_command(argv) is expected


@pytest.mark.parametrize(("argv", "expected"), DANGEROUS)
def test_dangerous_table(argv: list[str], expected: bool) -> None:
    assert might_be_dangerous(argv) is expected


def test_linux_only_safe_commands() -> None:
    linux = sys.platform.startswith("linux")
    assert is_known_safe_command(["numfmt", "1000"]) is linux
    assert is_known_safe_command(["tac", "Cargo.toml"]) is linux
