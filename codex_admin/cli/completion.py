"""`codex completion bash|zsh|fish`: shell completion for every command, group and option.

The printed script calls `codex` back with ``_CODEX_COMPLETE`` set; :func:`complete` answers
from a typer app that holds the real app of the group being completed (and just the group names
otherwise), so a Tab press imports one group, as running the command would.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping

import typer
import typer.main

# typer's public completion helpers (what `--install-completion` uses); typer.completion
# re-exports them without an __all__, hence the ignore.
from typer.completion import completion_init, get_completion_script  # type: ignore[attr-defined]

__all__ = ["COMPLETE_VAR", "SHELLS", "complete", "print_script"]

COMPLETE_VAR = "_CODEX_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


def _completion_app(groups: Mapping[str, tuple[str, str]], words: list[str]) -> typer.Typer:
    app = typer.Typer(add_completion=False)
    current = next((w for w in words[1:] if not w.startswith("-")), None)
    complete_inside = current in groups and len(words) > 2
    for name, (module, text) in groups.items():
        if complete_inside and name == current:
            app.add_typer(importlib.import_module(module).app, name=name, help=text)
        else:
            app.command(name=name, help=text)(_noop)
    app.command(name="completion", help="Print a shell completion script")(_noop)
    return app


def _noop() -> None:
    """A stand-in so the group's name completes without importing it."""


def complete(groups: Mapping[str, tuple[str, str]]) -> None:
    """Answer a completion request from the shell script."""
    # bash passes the words in COMP_WORDS; typer's zsh and fish scripts in _TYPER_COMPLETE_ARGS.
    words = (os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS", "")).split()
    completion_init()
    command = typer.main.get_command(_completion_app(groups, words))
    command.main(prog_name="codex", complete_var=COMPLETE_VAR)


def print_script(shell: str) -> int:
    """Print the completion script for ``shell``; 2 (usage) for an unknown shell."""
    if shell not in SHELLS:
        sys.stderr.write(
            f"Usage: codex completion [{'|'.join(SHELLS)}]\n"
            f"Error: unknown shell {shell!r}; use one of {', '.join(SHELLS)}\n"
        )
        return 2
    script = get_completion_script(prog_name="codex", complete_var=COMPLETE_VAR, shell=shell)
    sys.stdout.write(script if script.endswith("\n") else script + "\n")
    return 0
