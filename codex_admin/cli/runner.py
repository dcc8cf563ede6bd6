"""Run a typer app with the project's error contract.

* :class:`~codex_admin.errors.CodexError` -> its message on stderr, exit 1, no traceback; with
  ``--json`` also the JSON error object on stdout (every command, see :mod:`.json_errors`).
* usage errors -> click's usage message, exit 2.
* Ctrl-C -> exit 130; a closed stdout pipe -> quiet exit.
"""

from __future__ import annotations

from collections.abc import Sequence

import typer

from codex_admin.cli.fast_args import finish_command
from codex_admin.cli.json_errors import wants_json


def run_typer_app(app: typer.Typer, args: Sequence[str], prog_name: str) -> None:
    command = typer.main.get_command(app)

    def run() -> int:
        command.main(args=list(args), prog_name=prog_name, standalone_mode=True)
        return 0  # click exits on its own; this is for a command that returns

    finish_command(run, wants_json(args))
