"""Reading a rules file without hanging, exhausting memory or following a planted symlink out.

Rules files are found in folders other people can write (a project's ``.codex/rules``), so
:func:`read_rules_file` opens with ``O_NONBLOCK`` (opening a FIFO for reading would otherwise
wait for a writer forever), accepts only a regular file (not ``/dev/zero``, a FIFO, a socket or
a directory), refuses one larger than the size cap before reading, and reads at most that many
bytes even if the file grows meanwhile. Every refusal is a located :class:`CodexError`.

:func:`contained_file` is the discovery check: a rules entry (or the ``rules`` folder) may be a
symlink only if it resolves inside its config folder; the target of one that leaves is never
opened, so a planted ``.codex/rules/x.rules -> ~/.ssh/id_ed25519`` cannot make an error message
quote the secret.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from codex_admin.errors import CodexError, Location

__all__ = ["contained_file", "read_rules_file"]

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def read_rules_file(path: Path, max_bytes: int, quote_source: bool = True) -> str:
    """The UTF-8 text of the regular file ``path`` (at most ``max_bytes``), or a CodexError."""
    label = str(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise CodexError(
            f"failed to read policy at {label}: {err.strerror or err}",
            location=Location(label),
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CodexError(
                f"failed to read policy at {label}: it is {_kind(info.st_mode)}, "
                "not a regular file",
                location=Location(label),
                hint="rules files must be regular *.rules files",
            )
        if info.st_size > max_bytes:
            raise _too_large(label, info.st_size, max_bytes)
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise _too_large(label, size, max_bytes)
    except OSError as err:
        raise CodexError(
            f"failed to read policy at {label}: {err.strerror or err}", location=Location(label)
        ) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise CodexError(
            f"failed to parse policy at {label}: file is not valid UTF-8",
            location=Location(label, line, column if quote_source else None),
            hint="save the file as UTF-8",
        ) from None


def _too_large(label: str, size: int, max_bytes: int) -> CodexError:
    return CodexError(
        f"failed to read policy at {label}: {size} bytes is more than the limit of {max_bytes}",
        location=Location(label),
        hint="split the policy into several files, or raise CODEX_EXECPOLICY_MAX_FILE_MB",
    )


def contained_file(entry: Path, folder: Path) -> Path:
    """``entry`` if it stays inside ``folder`` once symlinks are resolved, else a CodexError.

    ``folder`` is the config folder (``.codex``, ``$CODEX_HOME``, the system dir); it may itself
    be a symlink (a dotfiles checkout), its contents may not point out of it.
    """
    if not entry.is_symlink():
        return entry
    try:
        root = folder.resolve(strict=True)
        target = entry.resolve(strict=True)
    except (OSError, RuntimeError):
        raise CodexError(
            f"failed to read rules from {entry}: it is a dangling or looping symlink",
            location=Location(entry),
            hint="remove the link, or replace it with the file itself",
        ) from None
    if target != root and root not in target.parents:
        raise CodexError(
            f"refusing to read rules from {entry}: it is a symlink that leaves {folder}",
            location=Location(entry),
            hint="copy the rules file into the folder instead of linking to it; links may "
            "only point inside the config folder",
        )
    return entry
