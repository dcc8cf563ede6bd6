"""The option parser of the typer-free fast paths (`config show`, `doctor`, `network check`),
and the one error ending every command shares, fast path or typer (:func:`finish_command`).

It accepts exactly what click accepts for a table of options -- ``--opt VALUE``,
``--opt=VALUE``, ``-o VALUE``, ``-oVALUE`` and flags -- and nothing else: an unknown option, a
stray argument, a flag given a value or an option missing its value returns None, so the
caller declines and the typer command answers with click's usage error (exit 2) or its help.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, NoReturn

from codex_admin.cli.output import print_json
from codex_admin.errors import CodexError

__all__ = ["finish_command", "parse_options"]


def parse_options(
    args: Sequence[str],
    options: Mapping[str, tuple[str, bool]],
    *,
    repeatable: Collection[str] = (),
) -> dict[str, Any] | None:
    """Parse ``args`` with ``options`` (``option -> (keyword, takes a value)``).

    A flag sets its keyword to True; a valued option sets it to the last value given, or
    appends to a list for the keywords in ``repeatable`` (present, empty, when not given).
    """
    found: dict[str, Any] = {key: [] for key in repeatable}
    i = 0
    while i < len(args):
        arg = args[i]
        name, value = arg, None
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
        elif len(arg) > 2 and arg[0] == "-" and arg[1] != "-":
            name, value = arg[:2], arg[2:]
        spec = options.get(name)
        if spec is None:
            return None
        key, takes_value = spec
        if not takes_value:
            if value is not None:
                return None
            found[key] = True
            i += 1
            continue
        if value is None:
            if i + 1 >= len(args):
                return None
            value = args[i + 1]
            i += 1
        i += 1
        if key in repeatable:
            found[key].append(value)
        else:
            found[key] = value
    return found


def finish_command(action: Callable[[], int], json_out: bool) -> NoReturn:
    """Run a command (a fast path's library call and renderer, or a typer app), then exit as
    every command does: its code;
    1 with ``error: ...`` (and the JSON error object under ``--json``) for a CodexError; 130
    on Ctrl-C; quietly when the reader of stdout went away (``codex doctor | head``)."""
    try:
        code = action()
        sys.stdout.flush()
    except CodexError as err:
        if json_out:
            print_json({"error": err.to_json()}, pretty=False)
        sys.stdout.flush()
        sys.stderr.write(f"error: {err}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    sys.exit(code)
