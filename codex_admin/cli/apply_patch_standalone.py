"""The standalone ``apply_patch`` tool: what runs when argv[0] is ``apply_patch``/``applypatch``.

Same contract as Codex's binary under that name (checked against 0.169.0):

* ``apply_patch 'PATCH'`` or ``... | apply_patch``; more than one argument -> exit 2 with
  ``Error: apply_patch accepts exactly one argument.``; no argument and nothing on stdin -> the
  usage text, exit 2; a non-UTF-8 argument or stdin -> exit 1 with Codex's message;
* operations applied in order without rollback, relative paths against the current directory;
* success: ``Success. Updated the following files:`` and ``A``/``M``/``D`` lines on stdout,
  exit 0; failure: Codex's message on stderr, nothing on stdout, exit 1.

Imports no typer/pydantic: it is exec'd for every patch an agent runs in a sandbox.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import BinaryIO, Protocol

from codex_admin.apply_patch import LocalFileSystem, PatchError, apply, parse

__all__ = ["USAGE", "main", "run"]

USAGE = "Usage: apply_patch 'PATCH'\n       echo 'PATCH' | apply_patch\n"
STDIN_NOT_UTF8 = "Error: Failed to read PATCH from stdin.\nstream did not contain valid UTF-8\n"


class _Out(Protocol):
    def write(self, text: str, /) -> object: ...


class _Utf8:
    """Text written as UTF-8 bytes whatever the locale (paths may be any Unicode)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def write(self, text: str, /) -> object:
        return self._stream.write(text.encode("utf-8", "surrogateescape"))


def run(args: Sequence[str], stdin: BinaryIO, stdout: _Out, stderr: _Out, cwd: str) -> int:
    """Run the tool on ``args`` (text goes to ``stdout``/``stderr``); returns the exit status."""
    if len(args) > 1:
        stderr.write("Error: apply_patch accepts exactly one argument.\n")
        return 2
    if args:
        try:
            text = os.fsencode(args[0]).decode("utf-8")
        except UnicodeDecodeError:
            stderr.write("Error: apply_patch requires a UTF-8 PATCH argument.\n")
            return 1
    else:
        data = stdin.read()
        if not data:
            stderr.write(USAGE)
            return 2
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            stderr.write(
                "Error: Failed to read PATCH from stdin.\nstream did not contain valid UTF-8\n"
            )
            return 1
    try:
        result = apply(parse(text), LocalFileSystem(cwd))
    except PatchError as error:
        stderr.write(f"{error}\n")
        return 1
    stdout.write(result.success_text)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point for ``apply_patch`` and ``applypatch``."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        out, err = _Utf8(sys.stdout.buffer), _Utf8(sys.stderr.buffer)
        try:
            cwd = os.getcwd()
        except OSError as error:  # the directory was removed under us
            err.write(f"Error: cannot determine the current directory: {error.strerror}\n")
            sys.exit(1)
        code = run(args, sys.stdin.buffer, out, err, cwd)
        sys.stdout.buffer.flush()
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 1
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
