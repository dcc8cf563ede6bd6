"""Programs that run other programs: ``env git push``, ``sudo rm``, ``xargs``, ``find -exec``.

Era: a compact form of the newest core's nested-execution analysis (spec §10.6). Prefix rules
match argv[0], so ``env git push`` or ``timeout 5 git push`` would escape a ``git push`` forbid.
:func:`delegated_commands` peels well-known delegators (their options included) and nested
``bash -c`` wrappers to find the commands they will run; the caller applies the *restrictive*
(prompt/forbidden) rules of those commands. Delegators whose target cannot be known statically
(``eval``, ``source``, ``su -c``, other shells, ``watch``...) are reported as opaque, and the
caller refuses them while restrictive rules are active, as the newest Codex does. Depth is capped
at 8 and the number of commands at 64.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

__all__ = ["MAX_DEPTH", "OPAQUE", "delegated_commands"]

MAX_DEPTH = 8
MAX_COMMANDS = 64

# delegator -> options that take a separate value
_WITH_VALUE: dict[str, frozenset[str]] = {
    "env": frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}),
    "sudo": frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "-R"}),
    "doas": frozenset({"-u", "-C"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "nohup": frozenset(),
    "time": frozenset({"-f", "--format", "-o", "--output"}),
    "timeout": frozenset({"-s", "--signal", "-k", "--kill-after"}),
    "stdbuf": frozenset({"-i", "-o", "-e", "--input", "--output", "--error"}),
    "setsid": frozenset(),
    "setpriv": frozenset({"--reuid", "--regid", "--groups", "--inh-caps", "--bounding-set"}),
    "ionice": frozenset({"-c", "-n", "-p", "-P", "-u", "--class", "--classdata"}),
    "taskset": frozenset(),
    "chroot": frozenset({"--userspec", "--groups"}),
    "command": frozenset(),
    "builtin": frozenset(),
    "exec": frozenset({"-a"}),
    "noglob": frozenset(),
    "nocorrect": frozenset(),
    "busybox": frozenset(),
    "xargs": frozenset(
        {"-a", "-d", "-E", "-e", "-I", "-i", "-L", "-l", "-n", "-P", "-s", "--arg-file",
         "--delimiter", "--max-args", "--max-procs", "--max-lines", "--max-chars"}
    ),
    "parallel": frozenset({"-j", "--jobs", "-S", "--sshlogin"}),
}  # fmt: skip
# positional arguments consumed before the command (timeout DURATION, chroot NEWROOT, taskset MASK)
_POSITIONAL = {"timeout": 1, "chroot": 1, "taskset": 1}
_OPAQUE_PROGRAMS = frozenset(
    {
        "eval", ".", "source", "trap", "watch", "su", "runuser", "ash", "csh", "dash", "fish",
        "ksh", "mksh", "rc", "tcsh", "zsh", "bash", "sh", "cmd", "powershell", "pwsh",
    }
)  # fmt: skip
OPAQUE = "opaque"


def _peel(name: str, args: Sequence[str]) -> list[str] | str | None:
    """The command a delegator runs, OPAQUE, or None when it runs nothing (a query)."""
    if name == "command" and any(a in ("-v", "-V") for a in args[:2]):
        return None
    if name == "trap" and (not args or args[0] in ("-l", "-p")):
        return None
    if name in _OPAQUE_PROGRAMS:
        return OPAQUE
    if name == "find":
        for index, arg in enumerate(args):
            if arg in ("-exec", "-execdir", "-ok", "-okdir"):
                tail = list(args[index + 1 :])
                end = next((i for i, a in enumerate(tail) if a in (";", "+")), len(tail))
                return tail[:end] or OPAQUE
        return None
    with_value = _WITH_VALUE.get(name)
    if with_value is None:
        return None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if name == "env" and "=" in arg and not arg.startswith("-"):
            i += 1
            continue
        if not arg.startswith("-") or arg == "-":
            break
        if (name == "env" and arg in ("-S", "--split-string")) or arg.startswith("--split-string="):
            return OPAQUE
        i += 2 if arg in with_value else 1
    i += _POSITIONAL.get(name, 0)
    rest = list(args[i:])
    if not rest:
        return None
    return rest


def delegated_commands(argv: Sequence[str]) -> tuple[list[list[str]], bool]:
    """Commands run *by* ``argv`` (not argv itself), and whether some target was opaque."""
    from codex_admin.execpolicy.shell import (
        extract_shell_script,
        inspect_script,
        parse_plain_commands,
    )

    found: list[list[str]] = []
    opaque = False
    pending: list[tuple[list[str], int]] = [(list(argv), 0)]
    while pending:
        cmd, depth = pending.pop()
        if not cmd:
            continue
        if depth > MAX_DEPTH or len(found) >= MAX_COMMANDS:
            return found, True
        script = extract_shell_script(cmd)
        if script is not None:
            inner = parse_plain_commands(script)
            if inner is None:
                inner, complete = inspect_script(script)
                opaque = opaque or not complete
            for sub in inner:
                found.append(sub)
                pending.append((sub, depth + 1))
            continue
        target = _peel(posixpath.basename(cmd[0]), cmd[1:])
        if target == OPAQUE:
            opaque = True
        elif isinstance(target, list):
            found.append(target)
            pending.append((target, depth + 1))
    return found, opaque
