"""Shell-wrapper splitting with tree-sitter-bash (spec §10)."""

from __future__ import annotations

import pytest

from codex_admin.execpolicy import (
    extract_shell_script,
    literal_commands,
    parse_heredoc_command,
    parse_plain_commands,
)

SPLITS = [
    ("ls", [["ls"]]),
    ("ls -l && pwd", [["ls", "-l"], ["pwd"]]),
    ("a || b; c | d", [["a"], ["b"], ["c"], ["d"]]),
    ("ls\npwd\n\nwhoami", [["ls"], ["pwd"], ["whoami"]]),
    ("echo 'hi' ; ls", [["echo", "hi"], ["ls"]]),
    ('grep -R "Cargo.toml" -n || true', [["grep", "-R", "Cargo.toml", "-n"], ["true"]]),
    ("sed -n '1,5p' file.txt", [["sed", "-n", "1,5p", "file.txt"]]),
    ("echo x'y'\"z\"1", [["echo", "xyz1"]]),
    ('echo "a\\nb"', [["echo", "a\\nb"]]),
    ("echo 'a $b `c` ~d *e'", [["echo", "a $b `c` ~d *e"]]),
    ('echo "*" "~" "{a,b}"', [["echo", "*", "~", "{a,b}"]]),
    ("git log -n 5 --oneline", [["git", "log", "-n", "5", "--oneline"]]),
    ("ls;", [["ls"]]),
    ("", []),
    ("   \n\t ", []),
]

NOT_SIMPLE = [
    "(ls)",
    "{ ls; }",
    "ls || (pwd && echo hi)",
    "echo $HOME",
    "echo ${HOME}",
    "echo $(id)",
    "echo `id`",
    "echo $((1+2))",
    'echo "hi $USER"',
    'echo "$(id)"',
    "ls > out.txt",
    "ls >> out.txt",
    "cat < in.txt",
    "ls 2> err",
    "ls &> all",
    "cat <<EOF\nx\nEOF",
    "cat <<< hi",
    "diff <(ls) <(ls)",
    "sleep 1 &",
    "ls |& cat",
    "FOO=bar ls",
    "export FOO=bar",
    "if true; then ls; fi",
    "for i in 1 2; do ls; done",
    "while true; do ls; done",
    "case x in x) ls;; esac",
    "f() { ls; }",
    "ls # comment",
    "&& ls",
    "ls &&",
    "ls | | wc",
    "'git status'",
    '"ls" -l',
    "l* -l",
    "find . -del*",
    "ls fi?e",
    "ls [ab]",
    "echo ~",
    "echo HEAD~1",
    "echo HEAD^",
    "echo {a,b}",
    "echo a\\ b",
    "=ls",
    "echo =cmd",
    "echo a#b",
    'echo "a\\$b"',
    'echo "a\\`b"',
    'echo "a\\"b"',
    'echo "a\\\\b"',
    'echo "a\\\nb"',
    "ls\0rm -rf /",
    "echo 'unterminated",
]


@pytest.mark.parametrize(("script", "expected"), SPLITS)
def test_plain_scripts_split(script: str, expected: list[list[str]]) -> None:
    assert parse_plain_commands(script) == expected


@pytest.mark.parametrize("script", NOT_SIMPLE)
def test_scripts_that_must_not_split(script: str) -> None:
    assert parse_plain_commands(script) is None


@pytest.mark.parametrize(
    ("argv", "script"),
    [
        (["bash", "-lc", "ls"], "ls"),
        (["bash", "-c", "ls"], "ls"),
        (["zsh", "-lc", "ls"], "ls"),
        (["/bin/zsh", "-c", "ls"], "ls"),
        (["/opt/homebrew/bin/bash", "-lc", "ls"], "ls"),
        (["sh", "-c", "ls"], "ls"),
        (["/usr/bin/sh", "-c", "ls"], "ls"),
        (["/tmp/bash", "-lc", "ls"], None),
        ([".poc/bash", "-lc", "ls"], None),
        (["bash.evil", "-lc", "ls"], None),
        (["fish", "-c", "ls"], None),
        (["dash", "-c", "ls"], None),
        (["bash", "-l", "-c", "ls"], None),
        (["bash", "-lc"], None),
        (["bash", "-lc", "ls", "extra"], None),
        (["bash", "-x", "ls"], None),
    ],
)
def test_wrapper_recognition(argv: list[str], script: str | None) -> None:
    assert extract_shell_script(argv) == script


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("python3 <<'PY'\nprint(1)\nPY", ["python3"]),
        ("python3 -u <<PY\nprint('$x')\nPY", ["python3", "-u"]),
        ("cat <<EOF > out.txt\nhi\nEOF", None),  # file redirect anywhere
        ("PATH=/tmp cat <<EOF\nhi\nEOF", None),  # assignments (#20113)
        ('cat "$F" <<EOF\nhi\nEOF', None),  # strings/expansions
        ("cat $F <<EOF\nhi\nEOF", None),
        ("a <<EOF && b\nx\nEOF", None),  # more than one command
        ("ls", None),  # no heredoc
        ("cat <<EOF\nunterminated", None),
    ],
)
def test_heredoc_fallback(script: str, expected: list[str] | None) -> None:
    assert parse_heredoc_command(script) == expected


def test_literal_command_extraction_sees_everything_in_a_valid_tree() -> None:
    assert literal_commands("if test -d /x; then rm --force /x; fi") == [
        ["test", "-d", "/x"],
        ["rm", "--force", "/x"],
    ]
    assert literal_commands('rm -rf "$TARGET" >/dev/null') == [["rm", "-rf"]]
    assert ["rm", "-rf", "/e"] in literal_commands('echo "$(rm -rf /e)"')
    assert literal_commands("cmd=rm; $cmd -rf /x") == []
    assert literal_commands("if then rm -rf /x") == []


def test_huge_scripts_are_not_analysed_and_deep_nesting_is_safe() -> None:
    assert parse_plain_commands("ls && " * 20000 + "ls") is None  # > 64 KiB
    deep = "(" * 5000 + "ls" + ")" * 5000
    assert parse_plain_commands(deep) is None
    nested = literal_commands("echo $(" * 3000 + "rm -rf /" + ")" * 3000)
    assert ["rm", "-rf", "/"] in nested  # walked iteratively: no RecursionError
    big = "ls && " * 5000 + "ls"  # < 64 KiB: analysed, iteratively
    result = parse_plain_commands(big)
    assert result is not None and len(result) == 5001
