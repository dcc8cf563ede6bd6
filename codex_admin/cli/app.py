"""The one way a command group builds its typer app, so every group looks and behaves alike.

Plain help text (no rich boxes: help is read in CI logs and piped to files), ``-h`` as well as
``--help``, no typer completion commands (``codex completion`` covers the whole CLI) and no
"pretty" tracebacks (a traceback reaching the user is a bug; :mod:`.runner` turns errors into
messages).
"""

from __future__ import annotations

import typer

__all__ = ["make_app"]

_CONTEXT = {"help_option_names": ["-h", "--help"]}


def make_app(help: str, *, invoke_without_command: bool = False) -> typer.Typer:
    """A typer app for one `codex GROUP`; ``invoke_without_command`` for single-command groups."""
    return typer.Typer(
        help=help,
        no_args_is_help=not invoke_without_command,
        invoke_without_command=invoke_without_command,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings=_CONTEXT,
    )
