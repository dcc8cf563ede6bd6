"""Run a typer app with the project's error contract.

* :class:`~codex_admin.errors.CodexError` -> its message on stderr, exit 1, no traceback; with
  ``--json`` also the JSON error object on stdout (every command, see :mod:`.json_errors`).
* usage errors -> click's usage message, exit 2.
* Ctrl-C -> exit 130; a closed stdout pipe -> quiet exit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

from codex_admin.cli.json_errors import wants_json, write_error_json
from codex_admin.errors import CodexError


def run_typer_app(app: typer.Typer, args: Sequence[str], prog_name: str) -> None:
    command = typer.main.get_command(app)
    try:
        command.main(args=list(args), prog_name=prog_name, standalone_mode=True)
    except CodexError as err:
        if wants_json(args):
            try:
                write_error_json(err)
            except typer.Exit as done:
                sys.exit(done.exit_code)
        sys.stdout.flush()
        sys.stderr.write(f"error: {err}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # Downstream closed the pipe (`codex ... | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
