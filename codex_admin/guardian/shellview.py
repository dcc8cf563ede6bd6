"""One shell action seen every way the deterministic tier needs, built once per review.

Two views, for two jobs:

* **structured** -- the execpolicy splitter (:func:`commands_for_exec_policy`) plus the commands
  delegators run (``sudo``, ``env``, ``xargs``, ``find -exec``, nested ``bash -c``:
  :func:`delegated_commands`). It proves a script is a plain list of literal commands; only
  this view may ever make an action *low risk* (:attr:`ShellView.plain`).
* **lexical** -- a punctuation-aware tokenisation of the script (stdlib :mod:`shlex`) split at
  ``; & | && || ( ) newline`` and backticks, with redirect targets collected. It keeps the words
  the structured view drops (``rm -rf $HOME`` has a dynamic word the splitter refuses), so deny
  rules can still see them. It is used **only to find danger**, never to prove safety: a
  tokeniser is not a parser, and a script the splitter cannot prove plain is never low risk.

``opaque`` is set when some code cannot be inspected statically: a delegator the splitter marks
opaque (``eval``, ``source``, another shell), a script that is not plain, an interpreter given
inline code (``python -c``, ``node -e``...), a heredoc. Opaque actions are never low risk.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from codex_admin.execpolicy import (
    commands_for_exec_policy,
    delegated_commands,
    extract_shell_script,
    inspect_script,
    is_known_safe_command,
    parse_plain_commands,
)

__all__ = ["ShellView", "view_shell"]

_SEPARATORS = frozenset({";", "&", "|", "&&", "||", "(", ")", "\n", ";;", "|&", "$", "<("})
_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", ">&", "<>"})
_INLINE_CODE = {
    "python": ("-c",),
    "python3": ("-c",),
    "python2": ("-c",),
    "node": ("-e", "--eval", "-p", "--print"),
    "deno": ("eval",),
    "bun": ("-e", "--eval"),
    "perl": ("-e", "-E"),
    "ruby": ("-e",),
    "php": ("-r",),
    "lua": ("-e",),
    "osascript": ("-e",),
    "awk": (),
    "powershell": ("-c", "-command", "-enc", "-encodedcommand"),
    "pwsh": ("-c", "-command", "-enc", "-encodedcommand"),
}
MAX_LEXICAL_TOKENS = 20_000


@dataclass(frozen=True)
class ShellView:
    argv: tuple[str, ...]
    cwd: str
    script: str | None  # the wrapper's script, None for a plain argv
    commands: tuple[tuple[str, ...], ...]  # structured ∪ delegated ∪ lexical, de-duplicated
    plain: bool  # structured split is complete and literal (the only basis for "low risk")
    opaque: bool
    redirect_targets: tuple[str, ...]
    text: str  # argv and script as one string, for payload patterns

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(word for command in self.commands for word in command)

    def programs(self) -> set[str]:
        return {posixpath.basename(c[0]) for c in self.commands if c}

    def known_safe(self) -> bool:
        """execpolicy's known-safe heuristic on the whole argv (read-only, plain, literal)."""
        return self.plain and not self.opaque and is_known_safe_command(list(self.argv))


def _lexical(script: str) -> tuple[list[list[str]], list[str], bool]:
    """Commands and redirect targets by tokenising; ``ok`` False when tokenising failed."""
    lexer = shlex.shlex(script.replace("`", "\n"), posix=True, punctuation_chars=True)
    lexer.whitespace = " \t\r"
    lexer.wordchars += "$:@%+,^!#[]{}"
    lexer.commenters = ""
    commands: list[list[str]] = []
    targets: list[str] = []
    current: list[str] = []
    expect_target = False
    ok = True
    try:
        for count, token in enumerate(lexer):
            if count > MAX_LEXICAL_TOKENS:
                ok = False
                break
            if expect_target:
                expect_target = False
                if token not in _SEPARATORS and token not in _REDIRECTS:
                    if not token.isdigit() and token != "-":  # `2>&1`, `>&-`
                        targets.append(token)
                    continue
            if token in _REDIRECTS or (token.startswith(">") and set(token) <= {">", "&", "|"}):
                expect_target = True
                continue
            if token in ("<", "<<", "<<<") or token in _SEPARATORS or set(token) <= set(";&|()<"):
                if current:
                    commands.append(current)
                current = []
                continue
            current.append(token)
    except ValueError:  # unbalanced quotes: fall back to whitespace words
        ok = False
    if current:
        commands.append(current)
    if not ok:
        commands.append(script.split())
    return [c for c in commands if c], targets, ok


def _inline_code(command: Sequence[str]) -> bool:
    name = posixpath.basename(command[0]).lower() if command else ""
    if name.startswith("python"):
        name = "python"
    flags = _INLINE_CODE.get(name)
    if flags is None:
        return False
    if name == "awk":
        return any("system(" in arg or "|" in arg for arg in command[1:])
    return any(arg.lower() in flags for arg in command[1:])


_SHELL_NAMES = frozenset({"sh", "bash", "zsh", "dash", "ksh", "ash", "mksh", "fish", "busybox"})
_MAX_NESTING = 4


def _nested_scripts(commands: Sequence[Sequence[str]]) -> list[str]:
    """Scripts handed to another shell (``sh -xc S``, ``bash -c S``) or to ``eval``, for the
    lexical view only (the structured view already marks them opaque)."""
    scripts: list[str] = []
    for command in commands:
        if not command:
            continue
        name = posixpath.basename(command[0])
        if name == "eval" and len(command) > 1:
            scripts.append(" ".join(command[1:]))
        elif name in _SHELL_NAMES:
            args = list(command[1:])
            for index, arg in enumerate(args[:-1]):
                if arg.startswith("-") and not arg.startswith("--") and "c" in arg:
                    scripts.append(args[index + 1])
                    break
    return scripts


def view_shell(argv: Sequence[str], cwd: str) -> ShellView:
    """Build the two views of ``argv`` run in ``cwd`` (see the module docstring)."""
    words = tuple(argv)
    structured, complex_parsing = commands_for_exec_policy(list(words))
    script = extract_shell_script(list(words))
    plain = not complex_parsing
    opaque = complex_parsing
    if script is not None and parse_plain_commands(script) is None:
        plain = False
        _, complete = inspect_script(script)
        opaque = opaque or not complete or "<<" in script
    found: list[tuple[str, ...]] = [tuple(c) for c in structured]
    for command in structured:
        nested, hidden = delegated_commands(command)
        opaque = opaque or hidden
        found.extend(tuple(c) for c in nested)
    targets: list[str] = []
    ok = True
    if script is not None and not plain:
        literal, _ = inspect_script(script)
        found.extend(tuple(c) for c in literal)
    pending = [(script, 0)] if script is not None else []
    pending += [(inner, 1) for inner in _nested_scripts(found)]
    seen: set[str] = set()
    while pending:
        text, depth = pending.pop()
        if text in seen or depth > _MAX_NESTING:
            opaque = opaque or depth > _MAX_NESTING
            continue
        seen.add(text)
        lexical, redirects, tokenised = _lexical(text)
        ok = ok and tokenised
        targets.extend(redirects)
        for lexed in lexical:
            found.append(tuple(lexed))
            nested, hidden = delegated_commands(lexed)
            opaque = opaque or hidden
            found.extend(tuple(c) for c in nested)
        pending += [(inner, depth + 1) for inner in _nested_scripts([tuple(c) for c in lexical])]
    opaque = opaque or not ok
    for entry in found:
        if _inline_code(entry):
            opaque = True
            plain = False
    commands = tuple(dict.fromkeys(c for c in found if c))
    text = " ".join(words) if script is None else f"{' '.join(words[:2])} {script}"
    return ShellView(
        argv=words,
        cwd=cwd,
        script=script,
        commands=commands,
        plain=plain,
        opaque=opaque,
        redirect_targets=tuple(dict.fromkeys(targets)),
        text=text,
    )
