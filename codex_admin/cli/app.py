"""The one way a command group builds its typer app, so every group looks and behaves alike.

Plain help text (no rich boxes: help is read in CI logs and piped to files), ``-h`` as well as
``--help``, no typer completion commands (``codex completion`` covers the whole CLI) and no
"pretty" tracebacks (a traceback reaching the user is a bug; :mod:`.runner` turns errors into
messages). Every command and group is built with the classes below, so in every group:

* a parse error under ``--json`` is the JSON error object (:mod:`.json_errors`);
* arguments show their ``metavar`` (``SOURCE``, ``[DIR]``) in the usage line and help, never a
  Python type (``<path>``, ``<list[str]>``) or typer's ``{name}`` braces;
* a group that is one command (``codex doctor``) does not advertise ``COMMAND [ARGS]...``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
import typer.core

from codex_admin.cli.json_errors import (
    JsonErrorCommand,
    usage_error_class,
    wants_json,
    write_usage_json,
)

__all__ = ["CodexCommand", "CodexGroup", "make_app"]

_CONTEXT = {"help_option_names": ["-h", "--help"]}
_USAGE_ERROR = usage_error_class()


class CodexCommand(JsonErrorCommand):
    """Every command: JSON parse errors under ``--json``."""


class CodexGroup(typer.core.TyperGroup):
    """Every group: JSON parse errors under ``--json``; no ``COMMAND`` for a one-command group."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces: list[str] = super().collect_usage_pieces(ctx)
        if not self.commands and pieces and pieces[-1] == self.subcommand_metavar:
            pieces.pop()
        return pieces

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        json_out = wants_json(args)
        try:
            parsed: list[str] = super().parse_args(ctx, args)
        except _USAGE_ERROR as err:
            if not json_out:
                raise
            write_usage_json(err, ctx.command_path)
        return parsed


class _App(typer.Typer):
    """A Typer whose commands default to :class:`CodexCommand`, callbacks to :class:`CodexGroup`."""

    def command(
        self,
        name: str | None = None,
        *,
        cls: type[typer.core.TyperCommand] | None = None,
        **kw: Any,
    ) -> Callable[[Any], Any]:
        if cls is None or cls is JsonErrorCommand:
            cls = CodexCommand
        return super().command(name, cls=cls, **kw)

    def callback(
        self, *, cls: type[typer.core.TyperGroup] | None = None, **kw: Any
    ) -> Callable[[Any], Any]:
        return super().callback(cls=cls or CodexGroup, **kw)


def make_app(help: str | None, *, invoke_without_command: bool = False) -> typer.Typer:
    """A typer app for one `codex GROUP`; ``invoke_without_command`` for single-command groups
    (pass ``help=None`` there: the callback's docstring, with its example, is the help)."""
    # An explicit help=None would blank the help; left out, typer uses the callback docstring.
    described: dict[str, Any] = {} if help is None else {"help": help}
    return _App(
        cls=CodexGroup,
        no_args_is_help=not invoke_without_command,
        invoke_without_command=invoke_without_command,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings=_CONTEXT,
        **described,
    )
