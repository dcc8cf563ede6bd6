"""Writing what `managed build` and `managed pack` produce: clear errors, never tracebacks.

An output path is the admin's choice, so its mistakes are named: an ``--out`` that is a file
where a directory is wanted (or the reverse), a parent directory that does not exist, a symlink
where a file or folder is written (followed, it would write wherever the link points). Files are
written atomically (temp file in the same directory + rename) with an explicit mode.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from codex_admin.errors import CodexError, Location

__all__ = ["check_output_dir", "check_output_file", "write_output"]


def _error(path: Path, message: str, hint: str) -> CodexError:
    return CodexError(message, location=Location(path), hint=hint)


def check_output_dir(out: Path) -> None:
    """``out`` may be created (its parent exists) or is a real directory."""
    if out.is_symlink():
        raise _error(out, "`--out` is a symlink", "give a real directory")
    if out.exists() and not out.is_dir():
        raise _error(
            out,
            "`--out` exists and is not a directory",
            "give a directory to write the artifacts into (it is created when missing)",
        )
    if not out.exists() and not out.parent.is_dir():
        raise _error(
            out,
            f"`--out`: parent directory {out.parent} does not exist",
            "create the parent directory first, or choose another --out",
        )


def check_output_file(out: Path) -> None:
    """``out`` names a file that may be (re)written: not a directory, parent exists."""
    if out.is_symlink():
        raise _error(out, "`--out` is a symlink", "give a plain file path")
    if out.is_dir():
        raise _error(
            out,
            "`--out` is a directory",
            f"give a file name, e.g. --out {out / 'bundle.json'}",
        )
    if not out.parent.is_dir():
        raise _error(
            out,
            f"`--out`: parent directory {out.parent} does not exist",
            "create the parent directory first, or choose another --out",
        )


def write_output(root: Path, rel: str, data: bytes, mode: int = 0o644) -> Path:
    """Write ``root/rel`` atomically, creating folders below ``root`` but following no link."""
    target = root / rel
    current = root
    for part in Path(rel).parts[:-1]:
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            raise _error(
                current,
                f"refusing to write into {current}: it is a symlink or not a directory",
                "remove it, or choose another --out",
            )
    if target.is_symlink() or target.is_dir():
        raise _error(
            target,
            f"refusing to write {target}: it is a symlink or a directory",
            "remove it, or choose another --out",
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as err:
        raise _error(
            target, f"cannot write {target}: {err.strerror}", "check permissions"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _error(
            target, f"cannot write {target}: {err.strerror}", "check permissions"
        ) from None
    return target
