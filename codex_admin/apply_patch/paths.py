"""Path arithmetic on a filesystem view: Codex's lexical join, and a kernel-like resolution.

``absolute(cwd, raw)`` is how Codex turns a patch path into the path it writes: join to the
working directory when relative, then drop ``.`` and fold ``..`` lexically (so ``a/../b`` is
``b`` even when ``a`` does not exist). The error messages show this path.

:func:`resolve` then follows that path the way the kernel will when it is opened: every
component, left to right, through symlinks (``..`` in a link target applies to the link's
directory), at most 40 links. What does not exist yet is appended as is. This is what the
applier writes to and what the safety check judges, so both see the same file.
"""

from __future__ import annotations

import errno
from collections import deque
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

from codex_admin.apply_patch.fs_types import FileKind, FileStat

__all__ = ["Resolved", "StatView", "absolute", "normalize", "resolve"]

MAX_SYMLINKS = 40
_ROOT = PurePosixPath("/")


class StatView(Protocol):
    """What resolution needs: ``lstat`` (None when missing) and ``readlink``."""

    def lstat(self, path: PurePosixPath) -> FileStat | None: ...

    def readlink(self, path: PurePosixPath) -> str: ...


def normalize(path: PurePosixPath | str) -> PurePosixPath:
    """Drop ``.``, fold ``..`` lexically (``/..`` stays ``/``); ``path`` must be absolute."""
    parts: list[str] = []
    for part in str(path).split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return PurePosixPath("/" + "/".join(parts))


def absolute(cwd: PurePosixPath, raw: str) -> PurePosixPath:
    """The absolute, lexically normalised path Codex uses for patch path ``raw``."""
    if raw.startswith("/"):
        return normalize(raw)
    return normalize(f"{cwd}/{raw}")


@dataclass(frozen=True)
class Resolved:
    """Where a path leads: ``path`` (canonical up to the first missing component) and its stat.

    ``stat`` is None when the path does not exist; ``missing`` counts the trailing components
    that do not exist (0 when it exists).
    """

    path: PurePosixPath
    stat: FileStat | None
    missing: int = 0
    links: tuple[PurePosixPath, ...] = ()

    @property
    def exists(self) -> bool:
        return self.stat is not None


def resolve(view: StatView, path: PurePosixPath, *, follow_final: bool = True) -> Resolved:
    """Follow ``path`` (absolute) through symlinks as the kernel would.

    Raises ``NotADirectoryError`` when a component other than the last is not a directory,
    ``OSError(ELOOP)`` after 40 links, ``FileNotFoundError`` for ``..`` below a missing directory.
    ``links`` lists every symlink followed (their own paths), for the safety check.
    """
    pending = deque(path.parts[1:])
    current = _ROOT
    hops = 0
    links: list[PurePosixPath] = []
    stat: FileStat | None = view.lstat(_ROOT)
    while pending:
        name = pending.popleft()
        if name in ("", "."):
            continue
        if name == "..":
            current = current.parent
            stat = view.lstat(current)
            continue
        candidate = current / name
        if stat is not None and stat.kind is not FileKind.DIR:
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(current))
        stat = view.lstat(candidate)
        if stat is None:
            rest = [p for p in pending if p not in ("", ".")]
            if ".." in rest:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(candidate))
            return Resolved(
                path=candidate.joinpath(*rest),
                stat=None,
                missing=1 + len(rest),
                links=tuple(links),
            )
        if stat.kind is FileKind.SYMLINK and (pending or follow_final):
            hops += 1
            if hops > MAX_SYMLINKS:
                raise OSError(errno.ELOOP, "Too many levels of symbolic links", str(path))
            links.append(candidate)
            target = view.readlink(candidate)
            if target.startswith("/"):
                current = _ROOT
            stat = view.lstat(current)
            pending.extendleft(reversed(target.split("/")))
            continue
        current = candidate
    return Resolved(path=current, stat=stat, missing=0, links=tuple(links))
