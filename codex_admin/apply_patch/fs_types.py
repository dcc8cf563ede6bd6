"""The filesystem view the applier works through (a Protocol), and what ``lstat`` returns.

The applier does no I/O of its own: everything goes through a :class:`FileSystem`, so the same
code applies a patch to disk (:class:`~.fs.LocalFileSystem`), to memory
(:class:`~.fs.MemoryFileSystem`, for tests and previews), or to a copy-on-write overlay.
Paths are absolute :class:`~pathlib.PurePosixPath`; errors are ``OSError`` subclasses with an
``errno``, as from the ``os`` module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Protocol

__all__ = ["FileKind", "FileStat", "FileSystem"]


class FileKind(StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    OTHER = "other"  # FIFO, socket, device: never read or written


@dataclass(frozen=True)
class FileStat:
    """The parts of ``lstat`` the applier and the safety check need."""

    kind: FileKind
    size: int = 0
    nlink: int = 1
    mode: int = 0o644  # permission bits only


class FileSystem(Protocol):
    """A filesystem rooted at a working directory. All paths given are absolute.

    * ``lstat``: None when the path does not exist (does not follow a final symlink).
    * ``readlink``: a symlink's target text.
    * ``read_bytes``: a regular file's bytes (follows symlinks). A directory raises
      ``IsADirectoryError``; a FIFO, socket or device raises ``OSError(EINVAL)`` without blocking.
    * ``write_bytes``: replace the file atomically (readers see old or new bytes, never a mix).
      The parent must exist; a final symlink is refused (resolve it first). ``mode`` sets the
      permission bits; by default an existing file keeps its bits, a new one gets 0o666 & ~umask.
    * ``delete``: unlink a non-directory (a symlink itself, not its target).
    * ``mkdir`` / ``rmdir``: one directory level.
    * ``rename``: move an entry within the filesystem (used to stage deletes reversibly).

    Nothing here creates a hard link.
    """

    @property
    def cwd(self) -> PurePosixPath: ...

    def lstat(self, path: PurePosixPath) -> FileStat | None: ...

    def readlink(self, path: PurePosixPath) -> str: ...

    def read_bytes(self, path: PurePosixPath) -> bytes: ...

    def write_bytes(self, path: PurePosixPath, data: bytes, *, mode: int | None = None) -> None: ...

    def delete(self, path: PurePosixPath) -> None: ...

    def mkdir(self, path: PurePosixPath) -> None: ...

    def rmdir(self, path: PurePosixPath) -> None: ...

    def rename(self, src: PurePosixPath, dst: PurePosixPath) -> None: ...
