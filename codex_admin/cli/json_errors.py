"""`--json` failures as one JSON object on stdout, so a script never has to scrape stderr.

With ``--json`` a failing command prints exactly one document::

    {"error": {"message": str, "path": str|null, "line": int|null, "column": int|null,
               "hint": str|null}}

and exits 1 for a user error (a :class:`~codex_admin.errors.CodexError`: bad config, a file that
cannot be read, a port in use) or 2 for a usage error (a bad option value, a missing option, an
unknown flag). The human message still goes to stderr as well (``error: ...``), as it does
without ``--json``, where nothing changes: the runner prints the error on stderr.

Use both halves in a command module::

    @app.command("check", cls=JsonErrorCommand)     # parse errors (typer/click raise them)
    def check(..., json_out: JsonOpt = False) -> None:
        with json_errors(json_out, usage=(RequestSyntaxError,)):
            ...                                     # errors raised by the command itself

``usage`` lists CodexError subclasses that are usage errors (exit 2, also without ``--json``).

Every command and group built by :func:`codex_admin.cli.app.make_app` gets the parse-error half
already (its default command class is a :class:`JsonErrorCommand`), and the runner prints the
JSON object for any :class:`~codex_admin.errors.CodexError` that escapes a command run with
``--json`` (:func:`write_error_json`); ``json_errors`` is still how a command marks its own
usage errors.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
import typer.core

from codex_admin.cli.output import print_json
from codex_admin.errors import CodexError

__all__ = [
    "JsonErrorCommand",
    "json_errors",
    "usage_error_class",
    "wants_json",
    "write_error_json",
    "write_usage_json",
]


def usage_error_class() -> type[Exception]:
    """click's ``UsageError`` (every parse error is one). typer vendors click and exports only
    its subclass ``BadParameter``, so the class is found through that."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == "UsageError":
            return cls
    return typer.BadParameter


_USAGE_ERROR = usage_error_class()
EXIT_USER_ERROR = 1
EXIT_USAGE = 2


def _error_object(message: str, hint: str | None = None) -> dict[str, object]:
    return {"message": message, "path": None, "line": None, "column": None, "hint": hint}


def _message(err: Exception) -> str:
    format_message = getattr(err, "format_message", None)
    return str(format_message() if callable(format_message) else err)


def _usage_json(err: Exception, command: str | None) -> dict[str, object]:
    hint = f"run `{command} --help` for the options" if command else None
    return {"error": _error_object(_message(err), hint)}


def _exit_with(document: dict[str, object], code: int, text: str) -> NoReturn:
    sys.stdout.flush()
    print_json(document, pretty=False)
    sys.stdout.flush()
    sys.stderr.write(f"error: {text}\n")
    raise typer.Exit(code)


def wants_json(args: Sequence[str]) -> bool:
    """``--json`` among the options (not after ``--``, where a wrapped command's argv starts)."""
    options = list(args)
    if "--" in options:
        options = options[: options.index("--")]
    return "--json" in options


def write_usage_json(err: Exception, command: str | None) -> NoReturn:
    """The JSON object for a usage error, then exit 2."""
    _exit_with(_usage_json(err, command), EXIT_USAGE, _message(err))


def write_error_json(err: CodexError) -> NoReturn:
    """The JSON object for a user error, then exit 1."""
    _exit_with({"error": err.to_json()}, EXIT_USER_ERROR, str(err))


class JsonErrorCommand(typer.core.TyperCommand):
    """A typer command whose parse errors become the JSON error object under ``--json``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        json_out = wants_json(args)
        try:
            return super().parse_args(ctx, args)
        except _USAGE_ERROR as err:
            if not json_out:
                raise
            write_usage_json(err, ctx.command_path)


@contextmanager
def json_errors(
    enabled: bool, *, usage: tuple[type[CodexError], ...] = (), command: str | None = None
) -> Iterator[None]:
    """Turn errors raised inside the block into the JSON error object when ``enabled``.

    ``usage`` CodexError subclasses exit 2; without ``--json`` they become typer usage errors
    (click prints the usage line and the message, exit 2).
    """
    try:
        yield
    except CodexError as err:
        is_usage = isinstance(err, usage)
        if enabled:
            if not is_usage:
                write_error_json(err)
            _exit_with({"error": err.to_json()}, EXIT_USAGE, str(err))
        if is_usage:
            raise _USAGE_ERROR(str(err)) from None
        raise
    except _USAGE_ERROR as err:
        if not enabled:
            raise
        write_usage_json(err, command)
