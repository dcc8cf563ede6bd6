"""Splitting ``bash -lc SCRIPT`` wrappers into the commands they run (spec §10).

Era: the newest shell-command crate: exact wrapper spellings (§10.1), the plain word-only
grammar with the literal-word hardening (§10.2-10.3), the heredoc single-command fallback as
tightened by #20113 (§10.4), and literal-command extraction for dangerous-command detection only
(§10.5). Anything the plain grammar cannot prove to be a sequence of literal commands is
"not simple" (None) and the caller treats the whole argv as one command.

The syntax tree is walked iteratively (no recursion), scripts over 64 KiB or containing NUL are
never split, so hostile scripts cannot exhaust the Python stack or time. Arguments that are not
UTF-8 arrive as lone surrogates; the script is parsed as the bytes the shell will receive
(``surrogateescape``), so such a script is analysed, not a crash.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from codex_admin.bash_syntax import node_text
from codex_admin.execpolicy.scan import MAX_SCRIPT_BYTES, parse_tree

__all__ = [
    "MAX_SCRIPT_BYTES",
    "extract_shell_script",
    "inspect_script",
    "literal_commands",
    "parse_heredoc_command",
    "parse_plain_commands",
]

_SHELLS = frozenset(
    {
        "zsh", "/bin/zsh", "/usr/bin/zsh", "/usr/local/bin/zsh", "/opt/homebrew/bin/zsh",
        "sh", "/bin/sh", "/usr/bin/sh",
        "bash", "/bin/bash", "/usr/bin/bash", "/usr/local/bin/bash", "/opt/homebrew/bin/bash",
    }
)  # fmt: skip

_PLAIN_NAMED = frozenset(
    {
        "program", "list", "pipeline", "command", "command_name", "word", "string",
        "string_content", "raw_string", "number", "concatenation",
    }
)  # fmt: skip
_PLAIN_PUNCT = frozenset({"&&", "||", ";", "|", '"', "'"})
_UNSAFE_WORD_CHARS = frozenset("{}*?[]\\~^#$`")
_UNSAFE_ESCAPES = ("\\$", "\\`", '\\"', "\\\\", "\\\n")


def extract_shell_script(argv: Sequence[str]) -> str | None:
    """``[shell, -c|-lc, script]`` with an exactly-known shell spelling -> script, else None."""
    if len(argv) != 3 or argv[0] not in _SHELLS or argv[1] not in ("-c", "-lc"):
        return None
    return argv[2]


def _parse(script: str) -> Any | None:
    """The tree-sitter root node, or None for scripts we refuse to analyse."""
    return parse_tree(script)


def _walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _text(node: Any) -> str:
    return node_text(node)


def _literal_word(node: Any) -> str | None:
    text = _text(node)
    if text.startswith("=") or any(ch in _UNSAFE_WORD_CHARS for ch in text):
        return None
    return text


def _double_quoted(node: Any) -> str | None:
    for child in node.children:
        if child.is_named and child.type != "string_content":
            return None
    text = _text(node)
    if len(text) < 2 or any(esc in text for esc in _UNSAFE_ESCAPES):
        return None
    return text[1:-1]


def _word_value(node: Any) -> str | None:
    kind = node.type
    if kind in ("word", "number"):
        return _literal_word(node) if not node.named_children else None
    if kind == "string":
        return _double_quoted(node)
    if kind == "raw_string":
        text = _text(node)
        return text[1:-1] if len(text) >= 2 else None
    if kind == "concatenation":
        parts: list[str] = []
        for child in node.children:
            if child.type == "concatenation":
                return None
            value = _word_value(child)
            if value is None:
                return None
            parts.append(value)
        joined = "".join(parts)
        return joined or None
    return None


def _command_argv(command: Any) -> list[str] | None:
    argv: list[str] = []
    for child in command.children:
        if child.type == "command_name":
            inner = child.named_children
            if len(inner) != 1 or inner[0].type != "word":
                return None
            name = _literal_word(inner[0])
            if name is None or argv:
                return None
            argv.append(name)
            continue
        if not argv:
            return None
        value = _word_value(child)
        if value is None:
            return None
        argv.append(value)
    return argv or None


def parse_plain_commands(script: str) -> list[list[str]] | None:
    """The commands of a word-only script (§10.2-10.3); [] for blank; None if not simple."""
    root = _parse(script)
    if root is None or root.has_error:
        return None
    commands: list[Any] = []
    for node in _walk(root):
        if node.is_missing:
            return None
        if node.is_named:
            if node.type not in _PLAIN_NAMED:
                return None
            if node.type == "command":
                commands.append(node)
        elif node.type not in _PLAIN_PUNCT and node.type.strip():
            return None
    commands.sort(key=lambda n: n.start_byte)
    result: list[list[str]] = []
    for command in commands:
        argv = _command_argv(command)
        if argv is None:
            return None
        result.append(argv)
    return result


_HEREDOC_CHILDREN = frozenset(
    {"heredoc_body", "heredoc_redirect", "herestring_redirect", "redirected_statement", "comment"}
)


def parse_heredoc_command(script: str) -> list[str] | None:
    """The single-command heredoc fallback (§10.4): ``python3 <<'PY' ...`` -> ``["python3"]``."""
    root = _parse(script)
    if root is None or root.has_error:
        return None
    has_heredoc = False
    commands: list[Any] = []
    for node in _walk(root):
        if node.type == "file_redirect":
            return None
        if node.type == "heredoc_redirect":
            has_heredoc = True
        if node.type == "command":
            commands.append(node)
    if not has_heredoc or len(commands) != 1:
        return None
    argv: list[str] = []
    for child in commands[0].children:
        if child.type == "command_name":
            inner = child.named_children
            if len(inner) != 1 or inner[0].type != "word" or inner[0].named_children:
                return None
            name = _literal_word(inner[0])
            if name is None:
                return None
            argv.append(name)
        elif child.type in ("word", "number"):
            if child.named_children:
                return None
            word = _literal_word(child)
            if word is None:
                return None
            argv.append(word)
        elif child.type in _HEREDOC_CHILDREN:
            continue
        else:
            return None
    return argv or None


def inspect_script(script: str) -> tuple[list[list[str]], bool]:
    """Every command with a literal name anywhere in a script, dynamic words dropped, and
    whether that list is complete (a valid tree in which every command name is literal).

    Used to find restricted or dangerous commands (§10.5), never to prove a script safe.
    """
    root = _parse(script)
    if root is None or root.has_error:
        return [], False
    found: list[list[str]] = []
    complete = True
    for node in _walk(root):
        if node.type != "command":
            continue
        argv: list[str] = []
        for child in node.children:
            if child.type == "command_name":
                inner = child.named_children
                name = _word_value(inner[0]) if len(inner) == 1 else None
                if name is None:
                    complete = False
                    break
                argv.append(name)
            elif argv:
                value = _word_value(child)
                if value is not None:
                    argv.append(value)
        if argv:
            found.append(argv)
    return found, complete


def literal_commands(script: str) -> list[list[str]]:
    """The literal commands of :func:`inspect_script` (dangerous-command detection, §10.5)."""
    return inspect_script(script)[0]
