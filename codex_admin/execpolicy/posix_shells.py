"""POSIX shells: which names we read as one, and what ``sh [options] ...`` runs.

Every POSIX shell Debian ships (sh, dash, bash, rbash, zsh, ksh, ksh93, mksh, lksh, pdksh, posh,
yash, ash, hush, busybox's) is parsed for ``-c`` (in any cluster, after ``-o NAME``/``-O
NAME``), ``-s``, script files and standard input. Other shells' syntax (fish, csh, tcsh, rc, es,
elvish, xonsh, nu, PowerShell, cmd) is never analysed: a script for them is opaque.
"""

from __future__ import annotations

from codex_admin.execpolicy.target import Opaque, Script, Target
from codex_admin.execpolicy.words import Word

__all__ = ["OTHER_SHELLS", "POSIX_SHELLS", "shell_targets"]

POSIX_SHELLS = frozenset(
    {"sh", "dash", "bash", "rbash", "zsh", "ksh", "ksh93", "ksh88", "mksh", "mksh-static",
     "lksh", "pdksh", "posh", "yash", "ash", "hush", "busybox-sh", "bosh", "oksh", "loksh"}
)  # fmt: skip
OTHER_SHELLS = frozenset(
    {"fish", "csh", "tcsh", "bsd-csh", "rc", "es", "elvish", "xonsh", "nu", "nushell", "pwsh",
     "powershell", "powershell.exe", "pwsh.exe", "cmd", "cmd.exe", "ion", "murex", "oil", "osh",
     "ysh", "scsh", "closh", "tclsh8.6"}
)  # fmt: skip


def shell_targets(
    name: str, words: list[Word], stdin: str | None, stdin_dynamic: bool
) -> list[Target]:
    """``sh [options] [-c SCRIPT [NAME [ARGS]] | -s [ARGS] | FILE [ARGS]]``."""
    args = words[1:]
    command_mode = stdin_mode = False
    i = 0
    while i < len(args):
        word = args[i]
        if not word.static:
            return [Opaque(f"`{name}` gets an argument computed at run time: `{word.text}`")]
        text = word.text
        if text in ("--", "-"):
            i += 1
            break
        if text.startswith("--"):
            i += 2 if text in ("--rcfile", "--init-file") else 1
            continue
        if text[:1] in ("-", "+") and len(text) > 1:
            letters = text[1:]
            command_mode = command_mode or "c" in letters
            stdin_mode = stdin_mode or "s" in letters
            i += 1 + sum(1 for letter in letters if letter in "oO")
            continue
        break
    rest = args[i:]
    if command_mode:
        return [Script(rest[0], name)] if rest else []
    if rest and not stdin_mode:
        return [Opaque(f"`{name} {rest[0].text}` runs a script file")]
    if stdin is not None:
        return [Script(Word(stdin), f"{name} (standard input)")]
    # an interactive shell or one fed by a pipe: whatever it reads is never evaluated
    return [Opaque(f"`{name}` runs commands read from its standard input")]
