"""Recognise an ``apply_patch`` call hidden in a shell command, so the agent can intercept it.

Models sometimes run ``bash -lc "apply_patch <<'EOF' ... EOF"`` through the shell tool instead
of calling the apply_patch tool. Codex intercepts exactly these forms (spec §4) and so do we:

* ``["apply_patch", PATCH]`` or ``["applypatch", PATCH]`` (a direct call);
* ``[SHELL, FLAG, SCRIPT]`` where SHELL is bash/zsh/sh (any directory) with ``-c``/``-lc``,
  PowerShell with ``-Command`` (``-NoProfile`` allowed before it) or cmd with ``/c``, and SCRIPT
  is one statement: ``apply_patch <<'EOF' ... EOF``, optionally after ``cd DIR &&``.

Recognition is deliberately narrow (anything else is an ordinary command): the script is parsed
with tree-sitter-bash and must have no syntax errors, exactly one statement, a single heredoc
redirect with nothing but the heredoc in it, no arguments to ``apply_patch``, and ``cd`` with
exactly one literal argument (a plain word without shell specials, a quoted string without
expansions, or a raw string). The heredoc body is taken verbatim (trailing newlines dropped).

A bare patch given as the whole command, or as the whole script, is not a call:
:func:`detect_invocation` raises Codex's "patch detected without explicit call to apply_patch".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from codex_admin.apply_patch.model import PatchError
from codex_admin.apply_patch.parser import parse
from codex_admin.apply_patch.paths import absolute
from codex_admin.bash_syntax import node_text, parse_bash

__all__ = [
    "IMPLICIT_INVOCATION",
    "Invocation",
    "detect_invocation",
    "extract_heredoc",
    "intercept_warning",
]

APPLY_PATCH_COMMANDS = ("apply_patch", "applypatch")
IMPLICIT_INVOCATION = (
    'patch detected without explicit call to apply_patch. Rerun as ["apply_patch", "<patch>"]'
)
_UNSAFE_WORD_CHARS = frozenset("{}*?[]\\~^#$`'\"!&|;<>()")


def intercept_warning(tool_name: str) -> str:
    """The warning Codex adds when it runs a patch that arrived through a shell tool."""
    return (
        f"Warning: apply_patch was requested via {tool_name}. "
        "Use the apply_patch tool instead of exec_command."
    )


@dataclass(frozen=True)
class Invocation:
    """A recognised call: the patch text, the ``cd`` directory (as written) and how it came."""

    patch: str
    workdir: str | None = None
    via_shell: bool = False

    def cwd(self, base: PurePosixPath) -> PurePosixPath:
        """The directory the patch's relative paths resolve against (``base`` + ``cd DIR``)."""
        return absolute(base, self.workdir) if self.workdir is not None else base


def _shell_kind(argv: Sequence[str]) -> str | None:
    """The script of ``[shell, flag, script]`` (or PowerShell with -NoProfile), else None."""

    def stem(program: str) -> str:
        name = program.replace("\\", "/").rsplit("/", 1)[-1].lower()
        return name[:-4] if name.endswith(".exe") else name

    if len(argv) == 4 and stem(argv[0]) in ("pwsh", "powershell"):
        if argv[1].lower() != "-noprofile":
            return None
        argv = [argv[0], argv[2], argv[3]]
    if len(argv) != 3:
        return None
    name, flag, script = stem(argv[0]), argv[1], argv[2]
    if name in ("bash", "zsh", "sh") and flag in ("-c", "-lc"):
        return script
    if name in ("pwsh", "powershell") and flag.lower() == "-command":
        return script
    if name == "cmd" and flag.lower() == "/c":
        return script
    return None


def _parses(text: str) -> bool:
    try:
        parse(text)
    except PatchError:
        return False
    return True


def detect_invocation(argv: Sequence[str]) -> Invocation | None:
    """The apply_patch call ``argv`` makes, or None when it is an ordinary command.

    Raises :class:`PatchError` (``IMPLICIT_INVOCATION``) when ``argv`` is a bare patch.
    The returned patch text is not parsed yet: :func:`~.parser.parse` it (its errors are what
    the model should see).
    """
    if len(argv) == 1 and _parses(argv[0]):
        raise PatchError(IMPLICIT_INVOCATION, kind="parse")
    script = _shell_kind(argv)
    if script is not None and _parses(script):
        raise PatchError(IMPLICIT_INVOCATION, kind="parse")
    if len(argv) == 2 and argv[0] in APPLY_PATCH_COMMANDS:
        return Invocation(patch=argv[1])
    if script is None:
        return None
    found = extract_heredoc(script)
    if found is None:
        return None
    body, workdir = found
    return Invocation(patch=body, workdir=workdir, via_shell=True)


def _named(node: Any) -> list[Any]:
    return [child for child in node.children if child.is_named]


def _command_word(node: Any) -> str | None:
    """The name of a command node that has no arguments, else None."""
    if node.type != "command":
        return None
    children = _named(node)
    if len(children) != 1 or children[0].type != "command_name":
        return None
    words = _named(children[0])
    if len(words) != 1 or words[0].type != "word":
        return None
    return node_text(words[0])


def _cd_target(node: Any) -> str | None:
    if node.type != "command":
        return None
    children = _named(node)
    if len(children) != 2 or children[0].type != "command_name":
        return None
    if node_text(children[0]) != "cd":
        return None
    argument = children[1]
    if argument.type == "word":
        text = node_text(argument)
        return None if _UNSAFE_WORD_CHARS & set(text) or not text else text
    if argument.type == "raw_string":
        return node_text(argument)[1:-1]
    if argument.type == "string":
        parts = _named(argument)
        if len(parts) == 1 and parts[0].type == "string_content":
            content = node_text(parts[0])
            return None if "\\" in content else content
    return None


def extract_heredoc(script: str) -> tuple[str, str | None] | None:
    """``(heredoc body, cd directory or None)`` for the two accepted script forms, else None."""
    root = parse_bash(script)
    if root is None or root.has_error:
        return None
    statements = _named(root)
    if len(statements) != 1 or statements[0].type != "redirected_statement":
        return None
    statement = statements[0]
    body = statement.child_by_field_name("body")
    redirects = [c for c in _named(statement) if c.id != (body.id if body else None)]
    if body is None or len(redirects) != 1 or redirects[0].type != "heredoc_redirect":
        return None
    parts = _named(redirects[0])
    if [p.type for p in parts] != ["heredoc_start", "heredoc_body", "heredoc_end"]:
        return None
    heredoc = node_text(parts[1]).rstrip("\n")
    if body.type == "command":
        name = _command_word(body)
        return (heredoc, None) if name in APPLY_PATCH_COMMANDS else None
    if body.type != "list":
        return None
    pieces = body.children
    if len(pieces) != 3 or pieces[1].type != "&&":
        return None
    directory = _cd_target(pieces[0])
    if directory is None or _command_word(pieces[2]) not in APPLY_PATCH_COMMANDS:
        return None
    return heredoc, directory
