"""Apply a parsed patch through a filesystem view: Codex's order, or all-or-nothing.

Two modes (spec §5.2):

* ``apply(patch, fs, atomic=False)`` is Codex: operations run in order and stop at the first
  failure, leaving earlier effects in place (Codex's fixture 015 keeps a partial add).
* ``apply(patch, fs, atomic=True)`` (the agent's mode, and ``codex apply-patch --atomic``) first
  runs every operation against a copy-on-write overlay (:func:`preview`: all reads, matching and
  diffs, nothing written), then :func:`commit` writes the result: deletes are staged by renaming
  to a hidden name in the same directory, directories are created, files are replaced
  atomically; any failure undoes what was done, so the tree is left byte-identical.

Between :func:`preview` and :func:`commit` the agent asks for approval; :func:`commit` checks that
every file it touches still holds the bytes the preview read, and refuses otherwise.

Paths: a patch path is joined to ``fs.cwd`` and normalised lexically (Codex's rule; error
messages show that path); the kernel-like :func:`~.paths.resolve` then decides where bytes land.
Writing through a symlink updates its target (as Codex does), deleting one removes the link.
Intentional differences from Codex, all safer: ``*** Move to:`` naming the source itself
updates the file in place (Codex deletes it); special files are refused instead of read.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import PurePosixPath

from codex_admin.apply_patch.diff import (
    add_hunks,
    binary,
    decode,
    delete_hunks,
    diff_name,
    git_mode,
    headers,
    replace_hunks,
)
from codex_admin.apply_patch.fs_types import FileKind, FileStat, FileSystem
from codex_admin.apply_patch.model import (
    AddFile,
    ApplyResult,
    ChangeKind,
    ChangeSet,
    CommitPlan,
    DeleteFile,
    FileChange,
    Hunk,
    Patch,
    PatchError,
    Snapshot,
    UpdateFile,
)
from codex_admin.apply_patch.paths import absolute, resolve
from codex_admin.apply_patch.safety import TargetReport, check_targets, same_judgement
from codex_admin.apply_patch.text import update_text

__all__ = ["apply", "commit", "preview"]

NO_FILES = "No files were modified."


# -- error texts (Codex's, verified against the 0.169.0 binary) --------------------------------
def _reason(error: OSError) -> str:
    if error.errno is None:
        return str(error)
    return f"{error.strerror or os.strerror(error.errno)} (os error {error.errno})"


def _utf8_reason(error: UnicodeDecodeError) -> str:
    if error.reason == "unexpected end of data":
        return f"incomplete utf-8 byte sequence from index {error.start}"
    return f"invalid utf-8 sequence of {error.end - error.start} bytes from index {error.start}"


def _write_error(label: str) -> PatchError:
    return PatchError(
        f"Failed to write file {label}",
        kind="apply",
        file=label,
        hint="the path must be writable and its parents must be directories",
    )


def _delete_error(label: str) -> PatchError:
    return PatchError(
        f"Failed to delete file {label}",
        kind="apply",
        file=label,
        hint="Delete File needs an existing file (not a directory)",
    )


def _read_error(label: str, reason: str) -> PatchError:
    return PatchError(
        f"Failed to read file to update {label}: {reason}",
        kind="apply",
        file=label,
        hint="Update File needs an existing UTF-8 text file; use Add File to create one",
    )


def _snapshot(fs: FileSystem, path: PurePosixPath) -> Snapshot:
    st = fs.lstat(path)
    if st is None:
        return Snapshot("missing")
    if st.kind is FileKind.SYMLINK:
        return Snapshot("link", target=fs.readlink(path))
    if st.kind is FileKind.FILE:
        try:
            return Snapshot("file", data=fs.read_bytes(path), mode=st.mode)
        except OSError:
            return Snapshot("file", data=None, mode=st.mode)
    return Snapshot(st.kind.value)


class _Overlay:
    """Copy-on-write view over ``base``: records writes, deletes and new directories.

    The applier only hands it canonical paths (from :func:`~.paths.resolve` on this view), and
    patches never create symlinks, so exact-path bookkeeping is enough.
    """

    def __init__(self, base: FileSystem) -> None:
        self.base = base
        self.files: dict[PurePosixPath, bytes | None] = {}
        self.modes: dict[PurePosixPath, int] = {}
        self.dirs: list[PurePosixPath] = []
        self.originals: dict[PurePosixPath, Snapshot] = {}
        self.labels: dict[PurePosixPath, str] = {}

    @property
    def cwd(self) -> PurePosixPath:
        return self.base.cwd

    def _touch(self, path: PurePosixPath) -> None:
        if path not in self.originals and path not in self.dirs:
            self.originals[path] = _snapshot(self.base, path)

    def lstat(self, path: PurePosixPath) -> FileStat | None:
        if path in self.files:
            data = self.files[path]
            if data is None:
                return None
            return FileStat(FileKind.FILE, len(data), 1, self.modes.get(path, 0o644))
        if path in self.dirs:
            return FileStat(FileKind.DIR, 0, 2, 0o755)
        return self.base.lstat(path)

    def readlink(self, path: PurePosixPath) -> str:
        if path in self.files:
            raise OSError(errno.EINVAL, "Invalid argument", str(path))
        return self.base.readlink(path)

    def read_bytes(self, path: PurePosixPath) -> bytes:
        if path in self.files:
            data = self.files[path]
            if data is None:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
            return data
        return self.base.read_bytes(path)

    def write_bytes(self, path: PurePosixPath, data: bytes, *, mode: int | None = None) -> None:
        st = self.lstat(path)
        if st is not None and st.kind is not FileKind.FILE:
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        self._touch(path)
        self.files[path] = bytes(data)
        if st is not None:
            self.modes[path] = st.mode

    def delete(self, path: PurePosixPath) -> None:
        st = self.lstat(path)
        if st is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        if st.kind is FileKind.DIR:
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        self._touch(path)
        self.files[path] = None

    def mkdir(self, path: PurePosixPath) -> None:
        if self.lstat(path) is not None:
            raise FileExistsError(errno.EEXIST, "File exists", str(path))
        self.dirs.append(path)

    def rmdir(self, path: PurePosixPath) -> None:
        self.dirs.remove(path)

    def rename(self, src: PurePosixPath, dst: PurePosixPath) -> None:
        raise OSError(errno.EXDEV, "the preview overlay does not rename", str(src))


# -- one operation at a time ---------------------------------------------------------------------
def _display(path: PurePosixPath) -> str:
    return str(path)


def _prepare_write(fs: FileSystem, lexical: PurePosixPath) -> PurePosixPath:
    """Create missing parents (like ``create_dir_all``) and return where the bytes go."""
    label = _display(lexical)
    if lexical == PurePosixPath("/"):
        raise _write_error(label)
    try:
        parent = resolve(fs, lexical.parent)
    except OSError:
        raise _write_error(label) from None
    if parent.stat is None:
        missing = [parent.path, *parent.path.parents][: parent.missing]
        for directory in reversed(missing):
            _label(fs, directory, label)
            try:
                fs.mkdir(directory)
            except OSError:
                raise _write_error(label) from None
    elif parent.stat.kind is not FileKind.DIR:
        raise _write_error(label)
    entry = parent.path / lexical.name
    st = fs.lstat(entry)
    if st is not None and st.kind is FileKind.SYMLINK:
        try:
            target = resolve(fs, entry)
        except OSError:
            raise _write_error(label) from None
        lands_on = target.stat.kind if target.stat is not None else FileKind.FILE
        if target.missing > 1 or lands_on is not FileKind.FILE:
            raise _write_error(label)
        return target.path
    if st is not None and st.kind is not FileKind.FILE:
        raise _write_error(label)
    return entry


def _label(fs: FileSystem, path: PurePosixPath, label: str) -> None:
    """Remember which patch path a canonical path belongs to (for commit's error messages)."""
    if isinstance(fs, _Overlay):
        fs.labels.setdefault(path, label)


def _write(fs: FileSystem, where: PurePosixPath, data: bytes, label: str) -> None:
    _label(fs, where, label)
    try:
        fs.write_bytes(where, data)
    except OSError:
        raise _write_error(label) from None


def _existing_bytes(fs: FileSystem, path: PurePosixPath) -> bytes | None:
    st = fs.lstat(path)
    if st is None or st.kind is not FileKind.FILE:
        return None
    try:
        return fs.read_bytes(path)
    except OSError:
        return None


def _apply_add(fs: FileSystem, hunk: AddFile) -> FileChange:
    lexical = absolute(fs.cwd, hunk.path)
    where = _prepare_write(fs, lexical)
    old = _existing_bytes(fs, where)
    data = hunk.contents.encode("utf-8")
    _write(fs, where, data, _display(lexical))
    name = diff_name(fs.cwd, lexical)
    if old is None:
        diff = headers(None, name) + add_hunks(hunk.contents)
    else:
        old_text = decode(old)
        diff = (
            headers(name, name) + replace_hunks(old_text, hunk.contents)
            if old_text is not None
            else headers(name, name, body=False) + binary(name, name)
        )
    return FileChange(ChangeKind.ADD, lexical, hunk.path, old, data, diff)


def _delete_entry(fs: FileSystem, lexical: PurePosixPath) -> PurePosixPath | None:
    """The directory entry a delete removes (the final symlink is not followed)."""
    try:
        parent = resolve(fs, lexical.parent)
    except OSError:
        return None
    if parent.stat is None or parent.stat.kind is not FileKind.DIR:
        return None
    return parent.path / lexical.name


def _apply_delete(fs: FileSystem, hunk: DeleteFile) -> FileChange:
    lexical = absolute(fs.cwd, hunk.path)
    label = _display(lexical)
    entry = _delete_entry(fs, lexical)
    st = fs.lstat(entry) if entry is not None else None
    if entry is None or st is None or st.kind is FileKind.DIR:
        raise _delete_error(label)
    name = diff_name(fs.cwd, lexical)
    old: bytes | None
    if st.kind is FileKind.SYMLINK:
        target = fs.readlink(entry)
        old = target.encode("utf-8", "surrogateescape")
        shown = old.decode("utf-8", "replace")
        body = f"@@ -1 +0,0 @@\n-{shown}\n\\ No newline at end of file\n"
        diff = headers(name, None, mode=git_mode(st)) + body
    else:
        old = _existing_bytes(fs, entry)
        text = decode(old)
        diff = (
            headers(name, None, mode=git_mode(st)) + delete_hunks(text)
            if text is not None
            else headers(name, None, mode=git_mode(st), body=False) + binary(name, None)
        )
    _label(fs, entry, label)
    try:
        fs.delete(entry)
    except OSError:
        raise _delete_error(label) from None
    return FileChange(ChangeKind.DELETE, lexical, hunk.path, old, None, diff)


def _apply_update(fs: FileSystem, hunk: UpdateFile) -> FileChange:
    lexical = absolute(fs.cwd, hunk.path)
    label = _display(lexical)
    try:
        source = resolve(fs, lexical)
    except OSError as error:
        raise _read_error(label, _reason(error)) from None
    if source.stat is None:
        missing = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        raise _read_error(label, _reason(missing))
    if source.stat.kind is not FileKind.FILE:
        raise _read_error(label, f"path `{label}` is not a file")
    try:
        data = fs.read_bytes(source.path)
    except OSError as error:
        raise _read_error(label, _reason(error)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _read_error(label, _utf8_reason(error)) from None
    updated = update_text(text, hunk.chunks, label)
    new = updated.text.encode("utf-8")
    if hunk.move_path is None:
        _write(fs, source.path, new, label)
        name = diff_name(fs.cwd, lexical)
        diff = headers(name, name) + updated.hunks if updated.hunks else ""
        return FileChange(ChangeKind.UPDATE, lexical, hunk.path, data, new, diff)
    destination = absolute(fs.cwd, hunk.move_path)
    where = _prepare_write(fs, destination)
    _write(fs, where, new, _display(destination))
    entry = _delete_entry(fs, lexical)
    if entry is not None and entry != where:
        _label(fs, entry, label)
        try:
            fs.delete(entry)
        except OSError:
            raise PatchError(
                f"Failed to remove original {label}",
                kind="apply",
                file=label,
                hint="the new file was written; remove the original by hand",
            ) from None
    diff = headers(
        diff_name(fs.cwd, lexical), diff_name(fs.cwd, destination), body=bool(updated.hunks)
    )
    diff += updated.hunks
    return FileChange(
        ChangeKind.UPDATE, lexical, hunk.path, data, new, diff, destination, hunk.move_path
    )


def _apply_hunk(fs: FileSystem, hunk: Hunk) -> FileChange:
    """One operation; any filesystem error not already worded becomes Codex's message for it."""
    try:
        if isinstance(hunk, AddFile):
            return _apply_add(fs, hunk)
        if isinstance(hunk, DeleteFile):
            return _apply_delete(fs, hunk)
        return _apply_update(fs, hunk)
    except OSError as error:
        label = _display(absolute(fs.cwd, hunk.path))
        if isinstance(hunk, AddFile):
            raise _write_error(label) from None
        if isinstance(hunk, DeleteFile):
            raise _delete_error(label) from None
        raise _read_error(label, _reason(error)) from None


# -- the public entry points -----------------------------------------------------------------------
def preview(patch: Patch, fs: FileSystem) -> ChangeSet:
    """Everything ``patch`` would do to ``fs`` (bytes, diffs, targets), without writing.

    Raises :class:`PatchError` exactly where :func:`apply` would (same message), having
    changed nothing. A patch with no operations gives an empty change set.
    """
    overlay = _Overlay(fs)
    changes = tuple(_apply_hunk(overlay, hunk) for hunk in patch.hunks)
    plan = CommitPlan(
        originals=dict(overlay.originals),
        finals=dict(overlay.files),
        created_dirs=tuple(overlay.dirs),
        labels=dict(overlay.labels),
    )
    return ChangeSet(patch=patch, cwd=fs.cwd, changes=changes, plan=plan)


def apply(patch: Patch, fs: FileSystem, *, atomic: bool = False) -> ApplyResult:
    """Apply ``patch`` to ``fs``; see the module docstring for the two modes."""
    if not patch.hunks:
        raise PatchError(NO_FILES, kind="apply", hint="the patch has no operations")
    if atomic:
        return commit(preview(patch, fs), fs, verify=False)
    changes = tuple(_apply_hunk(fs, hunk) for hunk in patch.hunks)
    return ApplyResult.from_changes(changes)


def _matches(fs: FileSystem, path: PurePosixPath, before: Snapshot) -> bool:
    now = _snapshot(fs, path)
    if before.kind == "file" and before.data is None:
        return now.kind == "file"
    return now == before


def commit(
    changes: ChangeSet,
    fs: FileSystem,
    *,
    verify: bool = True,
    checked: TargetReport | None = None,
) -> ApplyResult:
    """Write a previewed change set all-or-nothing; undo everything on any failure.

    With ``verify`` (the default), first check that every touched path still holds what the
    preview saw, so an approval covers exactly the bytes written. With ``checked`` (the
    :func:`~.safety.check_targets` report that was approved), judge the targets again and refuse
    if any now resolves elsewhere or gets another verdict.
    """
    plan = changes.plan
    if not changes.changes:
        raise PatchError(NO_FILES, kind="apply", hint="the patch has no operations")
    if checked is not None and checked.policy is not None:
        again = check_targets(changes.patch, fs, checked.policy)
        if not same_judgement(checked, again):
            raise PatchError(
                "a patch target changed since it was checked (a symlink or directory was"
                " replaced); nothing was written",
                kind="apply",
                hint="check and preview the patch again",
            )
    if verify:
        for path, before in plan.originals.items():
            try:
                unchanged = _matches(fs, path, before)
            except OSError:
                unchanged = False
            if not unchanged:
                raise PatchError(
                    f"{path} changed since the patch was previewed; nothing was written",
                    kind="apply",
                    file=str(path),
                    hint="preview the patch again and re-approve it",
                )
    undo: list[tuple[str, PurePosixPath, PurePosixPath | None]] = []
    trash: list[PurePosixPath] = []
    current: tuple[str, PurePosixPath] = ("write", PurePosixPath("/"))
    try:
        for path, data in plan.finals.items():
            if data is None and plan.originals[path].kind != "missing":
                current = ("delete", path)
                hidden = path.parent / f".codex-trash-{secrets.token_hex(6)}"
                fs.rename(path, hidden)
                undo.append(("unstage", hidden, path))
                trash.append(hidden)
        for directory in plan.created_dirs:
            current = ("write", directory)
            if fs.lstat(directory) is None:
                fs.mkdir(directory)
                undo.append(("rmdir", directory, None))
        for path, data in plan.finals.items():
            if data is None:
                continue
            current = ("write", path)
            fs.write_bytes(path, data)
            undo.append(("restore", path, None))
    except OSError as error:
        problems = _rollback(fs, undo, plan)
        operation, path = current
        label = plan.labels.get(path, str(path))
        verb = "delete" if operation == "delete" else "write"
        message = f"Failed to {verb} file {label}"
        hint = f"{_reason(error)}; nothing was changed"
        if problems:
            hint = f"{_reason(error)}; rollback incomplete: {'; '.join(problems)}"
        raise PatchError(message, kind="apply", file=label, hint=hint) from None
    # The commit point is behind us: a staged deletion that cannot be unlinked now is reported,
    # not undone (the deleted file is already gone from its name).
    leftovers: list[str] = []
    for hidden in trash:
        try:
            fs.delete(hidden)
        except OSError as error:
            leftovers.append(f"could not remove the staged deletion {hidden}: {_reason(error)}")
    return ApplyResult.from_changes(changes.changes, tuple(leftovers))


def _rollback(
    fs: FileSystem,
    undo: list[tuple[str, PurePosixPath, PurePosixPath | None]],
    plan: CommitPlan,
) -> list[str]:
    problems: list[str] = []
    for action, path, other in reversed(undo):
        try:
            if action == "unstage" and other is not None:
                fs.rename(path, other)
            elif action == "rmdir":
                fs.rmdir(path)
            elif action == "restore":
                before = plan.originals[path]
                if before.kind == "file" and before.data is not None:
                    fs.write_bytes(path, before.data, mode=before.mode)
                elif before.kind == "missing":
                    fs.delete(path)
                else:
                    problems.append(f"{path}: cannot restore its earlier contents")
        except OSError as error:
            problems.append(f"{path}: {_reason(error)}")
    return problems
