"""Known-safe (spec §11) and might-be-dangerous (spec §12) command heuristics.

Era: newest upstream. Known-safe: ``git`` is never safe and path-qualified programs
(``./cat``, ``/bin/cat``) are never safe. Dangerous: ``dangerous_command_match`` (forced ``rm``
anywhere before ``--``, basename of argv[0], ``sudo`` recursion, literal commands anywhere in a
shell-wrapper script). Both are pure functions of argv; this module is for unmatched commands
only and never overrides a rule.
"""

from __future__ import annotations

import posixpath
import re
import sys
from collections.abc import Sequence

from codex_admin.execpolicy.shell import (
    extract_shell_script,
    literal_commands,
    parse_plain_commands,
)

__all__ = ["is_known_safe_command", "is_safe_to_call_with_exec", "might_be_dangerous"]

_ALWAYS_SAFE = frozenset(
    [
        "cat",
        "cd",
        "cut",
        "echo",
        "expr",
        "false",
        "grep",
        "head",
        "id",
        "ls",
        "nl",
        "paste",
        "pwd",
        "rev",
        "seq",
        "stat",
        "tail",
        "tr",
        "true",
        "uname",
        "uniq",
        "wc",
        "which",
        "whoami",
    ]
)
_LINUX_SAFE = frozenset({"numfmt", "tac"})
_FIND_UNSAFE = frozenset(
    ["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fls", "-fprint", "-fprint0", "-fprintf"]
)
_SED_RANGE = re.compile(r"^(\d+,)?\d+p$")


def is_safe_to_call_with_exec(argv: Sequence[str]) -> bool:
    """True for read-only invocations of a small allowlist of bare program names."""
    if not argv:
        return False
    program = argv[0]
    if not program or "/" in program or program in (".", ".."):
        return False
    args = argv[1:]
    if program in _ALWAYS_SAFE:
        return True
    if program in _LINUX_SAFE:
        return sys.platform.startswith("linux")
    if program == "base64":
        return not any(
            a in ("-o", "--output")
            or a.startswith("--output=")
            or (a.startswith("-o") and len(a) > 2)
            for a in args
        )
    if program == "find":
        return not any(a in _FIND_UNSAFE for a in args)
    if program == "rg":
        return not any(
            a in ("--search-zip", "-z")
            or a == "--pre"
            or a.startswith("--pre=")
            or a == "--hostname-bin"
            or a.startswith("--hostname-bin=")
            for a in args
        )
    if program == "sed":
        return (
            len(argv) <= 4
            and len(argv) >= 3
            and argv[1] == "-n"
            and bool(_SED_RANGE.match(argv[2]))
        )
    return False


def is_known_safe_command(argv: Sequence[str]) -> bool:
    """Safe directly, or a shell wrapper whose plain parse is non-empty and all safe."""
    command = ["bash" if arg == "zsh" else arg for arg in argv]
    if is_safe_to_call_with_exec(command):
        return True
    script = extract_shell_script(command)
    if script is None:
        return False
    commands = parse_plain_commands(script)
    return bool(commands) and all(is_safe_to_call_with_exec(c) for c in commands or ())


def _forced_rm(args: Sequence[str]) -> bool:
    for arg in args:
        if arg == "--":
            return False
        if arg == "--force":
            return True
        if arg.startswith("-") and not arg.startswith("--") and "f" in arg[1:]:
            return True
    return False


def _direct_dangerous(argv: Sequence[str]) -> bool:
    depth = 0
    while argv and depth < 64:
        name = posixpath.basename(argv[0])
        if name == "sudo":
            argv = argv[1:]
            depth += 1
            continue
        return name == "rm" and _forced_rm(argv[1:])
    return False


def might_be_dangerous(argv: Sequence[str]) -> bool:
    """Forced ``rm`` (``-f``/``--force``, possibly via ``sudo``), also inside shell wrappers."""
    if _direct_dangerous(argv):
        return True
    script = extract_shell_script(argv)
    if script is None:
        return False
    return any(_direct_dangerous(command) for command in literal_commands(script))
