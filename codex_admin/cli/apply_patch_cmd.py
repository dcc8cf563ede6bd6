"""`codex apply-patch [-C DIR] [--atomic] [--json] [PATCH | -]`: apply a Codex-format patch.

Default: Codex's standalone behaviour (operations in order, no rollback; success text on stdout,
exit 0; on failure Codex's message on stderr, nothing on stdout, exit 1). ``--atomic``: all or
nothing (preview, then commit with rollback), the mode the agent always uses. ``--json``: one
object on stdout either way (``{"ok": true, "summary", "added", "modified", "deleted",
"changes"}`` or ``{"error": {"message", "path", "line", "column", "hint"}}``), exit 0 / 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from codex_admin.apply_patch import LocalFileSystem, apply, parse
from codex_admin.cli.app import make_app
from codex_admin.cli.common import JsonOpt
from codex_admin.cli.output import print_json
from codex_admin.errors import CodexError

app = make_app(
    "Apply a patch in Codex's apply_patch format (PATCH, or stdin when omitted or '-').",
    invoke_without_command=True,
)

PatchArg = Annotated[
    str | None,
    typer.Argument(
        help="The patch text ('*** Begin Patch' ... '*** End Patch'); '-' or omitted: stdin",
        metavar="PATCH",
        show_default=False,
    ),
]
DirOpt = Annotated[
    Path | None,
    typer.Option(
        "-C",
        "--cd",
        metavar="DIR",
        help="Directory the patch's relative paths resolve against",
    ),
]
AtomicOpt = Annotated[
    bool,
    typer.Option("--atomic", help="All or nothing: on any failure leave every file untouched"),
]


def _read_patch(patch: str | None) -> str:
    if patch is not None and patch != "-":
        try:
            return os.fsencode(patch).decode("utf-8")
        except UnicodeDecodeError:
            raise CodexError("apply_patch requires a UTF-8 PATCH argument.") from None
    data = sys.stdin.buffer.read()
    if not data:
        raise typer.BadParameter(
            "no patch given: pass PATCH or pipe it on stdin", param_hint="PATCH"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CodexError(
            "Failed to read PATCH from stdin: stream did not contain valid UTF-8"
        ) from None


def _cwd(cwd: Path | None) -> Path:
    target = (cwd or Path(os.getcwd())).resolve()
    if not target.is_dir():
        raise CodexError(
            f"working directory {cwd} does not exist or is not a directory",
            hint="pass an existing directory to -C",
        )
    return target


@app.command()
def apply_patch_command(
    patch: PatchArg = None,
    cwd: DirOpt = None,
    atomic: AtomicOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Apply PATCH to the files under the working directory.

    Example: codex apply-patch --atomic < change.patch
    """
    try:
        result = apply(parse(_read_patch(patch)), LocalFileSystem(_cwd(cwd)), atomic=atomic)
    except CodexError as error:
        if json_out:
            print_json({"error": error.to_json()})
        else:
            sys.stderr.buffer.write(f"{error}\n".encode("utf-8", "surrogateescape"))
        raise typer.Exit(1) from None
    for warning in result.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if json_out:
        payload: dict[str, Any] = {"ok": True, "summary": result.success_text}
        payload.update(result.to_json())
        print_json(payload)
    else:
        sys.stdout.buffer.write(result.success_text.encode("utf-8", "surrogateescape"))
