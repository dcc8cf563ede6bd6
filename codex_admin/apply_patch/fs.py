"""Two :class:`~.fs_types.FileSystem` implementations: the real disk and memory.

:class:`LocalFileSystem` is careful in the ways an agent's file edits need:

* reads open with ``O_NONBLOCK`` after checking the file is regular, so a FIFO, socket or device
  planted under a patched name can never hang the agent; reads are capped (64 MiB by default);
* writes go to a fresh temporary file in the same directory (``O_EXCL | O_NOFOLLOW``), then
  ``rename`` over the target: atomic for readers, and never through a symlink or a hard link
  (the target name gets a new inode, so other names of a hard-linked file keep their bytes);
* nothing creates a hard link or a symlink.

:class:`MemoryFileSystem` models files, directories, symlinks, hard links and special files
with the same errors as the kernel, plus failure injection, for tests of the applier.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat as stat_module
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from codex_admin.apply_patch.fs_types import FileKind, FileStat
from codex_admin.apply_patch.paths import normalize, resolve

__all__ = ["DEFAULT_MAX_READ_BYTES", "LocalFileSystem", "MemoryFileSystem"]

DEFAULT_MAX_READ_BYTES = 64 * 1024 * 1024


def _kind(mode: int) -> FileKind:
    if stat_module.S_ISREG(mode):
        return FileKind.FILE
    if stat_module.S_ISDIR(mode):
        return FileKind.DIR
    if stat_module.S_ISLNK(mode):
        return FileKind.SYMLINK
    return FileKind.OTHER


def _os_path(path: PurePosixPath) -> str:
    text = str(path)
    if "\x00" in text:
        raise OSError(errno.EINVAL, "file name contained an unexpected NUL byte", text)
    return text


class LocalFileSystem:
    """The real filesystem, with relative patch paths resolved against ``cwd``."""

    def __init__(
        self, cwd: str | os.PathLike[str], *, max_read_bytes: int = DEFAULT_MAX_READ_BYTES
    ) -> None:
        self._cwd = PurePosixPath(os.path.abspath(cwd))
        self.max_read_bytes = max_read_bytes

    @property
    def cwd(self) -> PurePosixPath:
        return self._cwd

    def lstat(self, path: PurePosixPath) -> FileStat | None:
        try:
            st = os.lstat(_os_path(path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return FileStat(
            kind=_kind(st.st_mode), size=st.st_size, nlink=st.st_nlink, mode=st.st_mode & 0o7777
        )

    def readlink(self, path: PurePosixPath) -> str:
        return os.readlink(_os_path(path))

    def read_bytes(self, path: PurePosixPath) -> bytes:
        name = _os_path(path)
        st = os.stat(name)
        if stat_module.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", name)
        if not stat_module.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", name)
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
        fd = os.open(name, flags)
        try:
            st = os.fstat(fd)
            if not stat_module.S_ISREG(st.st_mode):  # swapped between stat and open
                raise OSError(errno.EINVAL, "not a regular file", name)
            if st.st_size > self.max_read_bytes:
                raise OSError(errno.EFBIG, os.strerror(errno.EFBIG), name)
            chunks: list[bytes] = []
            total = 0
            while True:
                block = os.read(fd, 1 << 20)
                if not block:
                    break
                total += len(block)
                if total > self.max_read_bytes:
                    raise OSError(errno.EFBIG, os.strerror(errno.EFBIG), name)
                chunks.append(block)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def write_bytes(self, path: PurePosixPath, data: bytes, *, mode: int | None = None) -> None:
        name = _os_path(path)
        try:
            st: os.stat_result | None = os.lstat(name)
        except FileNotFoundError:
            st = None
        if st is not None:
            if stat_module.S_ISLNK(st.st_mode):
                raise OSError(errno.ELOOP, "refusing to replace a symlink", name)
            if stat_module.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "Is a directory", name)
            if not stat_module.S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, "not a regular file", name)
        # Keep the permission bits, but not set-user/group-ID: the kernel drops those when an
        # unprivileged process writes a file, and a patched program must not stay privileged.
        bits = mode if mode is not None else (st.st_mode & 0o1777 if st is not None else None)
        temp = str(path.parent / f".codex-tmp-{secrets.token_hex(6)}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(temp, flags, 0o666)
        try:
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                if bits is not None:
                    os.fchmod(fd, bits)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, name)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise

    def delete(self, path: PurePosixPath) -> None:
        os.unlink(_os_path(path))

    def mkdir(self, path: PurePosixPath) -> None:
        os.mkdir(_os_path(path))

    def rmdir(self, path: PurePosixPath) -> None:
        os.rmdir(_os_path(path))

    def rename(self, src: PurePosixPath, dst: PurePosixPath) -> None:
        os.rename(_os_path(src), _os_path(dst))


@dataclass(eq=False)
class _File:
    data: bytes
    mode: int = 0o644
    nlink: int = 1


@dataclass(eq=False)
class _Dir:
    mode: int = 0o755


@dataclass(eq=False)
class _Link:
    target: str


@dataclass(eq=False)
class _Other:
    mode: int = 0o644


_Node = _File | _Dir | _Link | _Other

#: ``fail(operation, path)`` may return an OSError to raise: write_bytes, delete, mkdir, rmdir,
#: rename and read_bytes consult it first.
FailureHook = Callable[[str, PurePosixPath], OSError | None]


class _RawView:
    """Lookups by canonical path (what :func:`~.paths.resolve` asks for), for the memory tree."""

    def __init__(self, fs: MemoryFileSystem) -> None:
        self._fs = fs

    def lstat(self, path: PurePosixPath) -> FileStat | None:
        return self._fs._raw_stat(path)

    def readlink(self, path: PurePosixPath) -> str:
        return self._fs._raw_readlink(path)


class MemoryFileSystem:
    """An in-memory tree with kernel-like semantics (for tests and dry runs).

    Build it with ``files`` (paths relative to ``cwd`` or absolute; str or bytes contents), then
    :meth:`add_dir`, :meth:`add_symlink`, :meth:`add_fifo` and :meth:`hard_link`.
    :meth:`snapshot` gives every entry, for "the tree is byte-identical" checks. ``fail`` is
    called before each read or mutation and may return an OSError to raise (fault injection).
    """

    def __init__(
        self,
        files: Mapping[str, str | bytes] | None = None,
        *,
        cwd: str = "/work",
        fail: FailureHook | None = None,
    ) -> None:
        self.fail = fail
        self._cwd_text = cwd
        self._nodes: dict[PurePosixPath, _Node] = {PurePosixPath("/"): _Dir()}
        self._raw = _RawView(self)
        self.add_dir(cwd)
        for name, content in (files or {}).items():
            self.add_file(name, content)

    # -- building ---------------------------------------------------------------------------
    def _abs(self, path: str | PurePosixPath) -> PurePosixPath:
        text = str(path)
        return normalize(text if text.startswith("/") else f"{self._cwd_text}/{text}")

    def add_dir(self, path: str | PurePosixPath) -> PurePosixPath:
        target = self._abs(path)
        for parent in reversed(target.parents):
            self._nodes.setdefault(parent, _Dir())
        self._nodes.setdefault(target, _Dir())
        return target

    def add_file(self, path: str | PurePosixPath, content: str | bytes, mode: int = 0o644) -> None:
        target = self._abs(path)
        self.add_dir(target.parent)
        data = content.encode() if isinstance(content, str) else content
        self._nodes[target] = _File(data, mode)

    def add_symlink(self, path: str | PurePosixPath, target: str) -> None:
        link = self._abs(path)
        self.add_dir(link.parent)
        self._nodes[link] = _Link(target)

    def add_fifo(self, path: str | PurePosixPath) -> None:
        node = self._abs(path)
        self.add_dir(node.parent)
        self._nodes[node] = _Other()

    def hard_link(self, existing: str | PurePosixPath, new: str | PurePosixPath) -> None:
        """Give a file a second name (test set-up only; the applier never links)."""
        node = self._nodes[self._abs(existing)]
        if not isinstance(node, _File):
            raise ValueError("hard links are for regular files")
        node.nlink += 1
        self._nodes[self._abs(new)] = node

    def snapshot(self) -> dict[str, tuple[str, object]]:
        """Every entry: path -> (kind, bytes + mode | link target)."""
        out: dict[str, tuple[str, object]] = {}
        for path, node in sorted(self._nodes.items()):
            if isinstance(node, _File):
                out[str(path)] = ("file", (node.data, node.mode))
            elif isinstance(node, _Link):
                out[str(path)] = ("link", node.target)
            elif isinstance(node, _Dir):
                out[str(path)] = ("dir", None)
            else:
                out[str(path)] = ("other", None)
        return out

    def read_text(self, path: str) -> str:
        return self.read_bytes(self._abs(path)).decode()

    # -- the protocol -------------------------------------------------------------------------
    @property
    def cwd(self) -> PurePosixPath:
        return self._abs(self._cwd_text)

    def _check(self, operation: str, path: PurePosixPath) -> None:
        _os_path(path)
        if self.fail is not None:
            error = self.fail(operation, path)
            if error is not None:
                raise error

    def _raw_stat(self, path: PurePosixPath) -> FileStat | None:
        node = self._nodes.get(path)
        if node is None:
            return None
        if isinstance(node, _File):
            return FileStat(FileKind.FILE, len(node.data), node.nlink, node.mode)
        if isinstance(node, _Dir):
            return FileStat(FileKind.DIR, 0, 2, node.mode)
        if isinstance(node, _Link):
            return FileStat(FileKind.SYMLINK, len(node.target), 1, 0o777)
        return FileStat(FileKind.OTHER, 0, 1, node.mode)

    def _raw_readlink(self, path: PurePosixPath) -> str:
        node = self._nodes.get(path)
        if not isinstance(node, _Link):
            raise OSError(errno.EINVAL, "Invalid argument", str(path))
        return node.target

    def _entry(self, path: PurePosixPath, *, follow: bool) -> tuple[PurePosixPath, _Node | None]:
        """Canonical location of ``path`` and its node (None when missing)."""
        _os_path(path)
        resolved = resolve(self._raw, path, follow_final=follow)
        if resolved.missing > 1:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        return resolved.path, self._nodes.get(resolved.path)

    def lstat(self, path: PurePosixPath) -> FileStat | None:
        try:
            where, node = self._entry(path, follow=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return self._raw_stat(where) if node is not None else None

    def readlink(self, path: PurePosixPath) -> str:
        where, node = self._entry(path, follow=False)
        if node is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        return self._raw_readlink(where)

    def read_bytes(self, path: PurePosixPath) -> bytes:
        self._check("read_bytes", path)
        _, node = self._entry(path, follow=True)
        if node is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        if isinstance(node, _Dir):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        if not isinstance(node, _File):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return node.data

    def _parent_dir(self, path: PurePosixPath) -> PurePosixPath:
        where, node = self._entry(path.parent, follow=True)
        if node is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        if not isinstance(node, _Dir):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(path))
        return where

    def write_bytes(self, path: PurePosixPath, data: bytes, *, mode: int | None = None) -> None:
        self._check("write_bytes", path)
        where = self._parent_dir(path) / path.name
        node = self._nodes.get(where)
        if isinstance(node, _Link):
            raise OSError(errno.ELOOP, "refusing to replace a symlink", str(path))
        if isinstance(node, _Dir):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        if isinstance(node, _Other):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        bits = mode if mode is not None else (node.mode & 0o1777 if node is not None else 0o644)
        if isinstance(node, _File):
            node.nlink -= 1  # the name now points at a new file, like rename(2)
        self._nodes[where] = _File(bytes(data), bits)

    def delete(self, path: PurePosixPath) -> None:
        self._check("delete", path)
        where = self._parent_dir(path) / path.name
        node = self._nodes.get(where)
        if node is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        if isinstance(node, _Dir):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        if isinstance(node, _File):
            node.nlink -= 1
        del self._nodes[where]

    def mkdir(self, path: PurePosixPath) -> None:
        self._check("mkdir", path)
        where = self._parent_dir(path) / path.name
        if where in self._nodes:
            raise FileExistsError(errno.EEXIST, "File exists", str(path))
        self._nodes[where] = _Dir()

    def rmdir(self, path: PurePosixPath) -> None:
        self._check("rmdir", path)
        where = self._parent_dir(path) / path.name
        node = self._nodes.get(where)
        if node is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        if not isinstance(node, _Dir):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(path))
        if any(where in p.parents for p in self._nodes):
            raise OSError(errno.ENOTEMPTY, "Directory not empty", str(path))
        del self._nodes[where]

    def rename(self, src: PurePosixPath, dst: PurePosixPath) -> None:
        self._check("rename", src)
        source = self._parent_dir(src) / src.name
        if source not in self._nodes:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(src))
        target = self._parent_dir(dst) / dst.name
        if isinstance(self._nodes.get(target), _Dir):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(dst))
        moved = {p: n for p, n in self._nodes.items() if p == source or source in p.parents}
        for p in moved:
            del self._nodes[p]
        for p, n in moved.items():
            self._nodes[target / p.relative_to(source)] = n
