"""The parsed patch, the changes it makes, and the one error type.

A patch is a list of operations (:class:`AddFile`, :class:`DeleteFile`, :class:`UpdateFile`) in
the order they appear. An update is a list of :class:`Chunk` s; a chunk keeps its body lines in
order with their marker (``" "`` context, ``"-"`` removed, ``"+"`` added) because the applier
needs to know which new lines are context (those keep the file's own text and line ending).

:class:`PatchError` carries Codex's exact message: ``str(err)`` is what the standalone
``apply_patch`` prints on stderr, byte for byte, so the location and hint live only in
:meth:`PatchError.to_json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath

from codex_admin.apply_patch.errors import PatchError

__all__ = [
    "AddFile",
    "ApplyResult",
    "ChangeKind",
    "ChangeSet",
    "Chunk",
    "CommitPlan",
    "DeleteFile",
    "FileChange",
    "Hunk",
    "Patch",
    "PatchError",
    "Snapshot",
    "UpdateFile",
]


@dataclass(frozen=True)
class Chunk:
    """One ``@@`` section of an update: an optional anchor line and the body in patch order."""

    context: str | None
    #: ``(marker, text)`` with marker ``" "`` (context), ``"-"`` (removed) or ``"+"`` (added).
    lines: tuple[tuple[str, str], ...]
    end_of_file: bool = False

    @property
    def old_lines(self) -> list[str]:
        """The lines the chunk expects in the file (context and removed)."""
        return [text for marker, text in self.lines if marker != "+"]

    @property
    def new_lines(self) -> list[str]:
        """The lines the chunk leaves in their place (context and added)."""
        return [text for marker, text in self.lines if marker != "-"]


@dataclass(frozen=True)
class AddFile:
    """``*** Add File: path``: create (or overwrite) ``path`` with ``contents``."""

    path: str
    contents: str
    line: int = 0


@dataclass(frozen=True)
class DeleteFile:
    """``*** Delete File: path``: remove the file (never a directory)."""

    path: str
    line: int = 0


@dataclass(frozen=True)
class UpdateFile:
    """``*** Update File: path`` with optional ``*** Move to: move_path`` and its chunks."""

    path: str
    chunks: tuple[Chunk, ...]
    move_path: str | None = None
    line: int = 0


Hunk = AddFile | DeleteFile | UpdateFile


@dataclass(frozen=True)
class Patch:
    """A parsed patch. ``text`` is the patch without any heredoc wrapper, lines joined by LF."""

    hunks: tuple[Hunk, ...]
    text: str

    def paths(self) -> list[str]:
        """Every path the patch names, in order (update sources and move destinations)."""
        out: list[str] = []
        for hunk in self.hunks:
            out.append(hunk.path)
            if isinstance(hunk, UpdateFile) and hunk.move_path is not None:
                out.append(hunk.move_path)
        return out


class ChangeKind(StrEnum):
    """The kinds Codex reports in ``file_change`` items and approval requests."""

    ADD = "add"
    DELETE = "delete"
    UPDATE = "update"


@dataclass(frozen=True)
class FileChange:
    """One operation's effect: absolute paths, old/new bytes and a unified diff.

    ``path`` is the file the operation names (for a move, the source); ``move_path`` the
    destination. ``display_path`` is the path as written in the patch (what the ``A``/``M``/``D``
    summary prints). ``old`` is None for an add of a new file, ``new`` None for a delete.
    """

    kind: ChangeKind
    path: PurePosixPath
    display_path: str
    old: bytes | None
    new: bytes | None
    diff: str
    move_path: PurePosixPath | None = None
    display_move_path: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "kind": self.kind.value,
            "move_path": str(self.move_path) if self.move_path is not None else None,
            "display_path": self.display_move_path or self.display_path,
            "diff": self.diff,
        }


@dataclass(frozen=True)
class Snapshot:
    """What was at a path before the patch: ``kind`` file / link / missing (+ bytes, mode)."""

    kind: str
    data: bytes | None = None
    mode: int | None = None
    target: str | None = None


@dataclass(frozen=True)
class CommitPlan:
    """The net effect of a previewed patch by canonical path, in first-touch order.

    ``finals`` maps a path to its new bytes (None: delete); ``labels`` maps every touched path
    (and every directory to create) to the patch path Codex would name in an error.
    """

    originals: dict[PurePosixPath, Snapshot] = field(default_factory=dict)
    finals: dict[PurePosixPath, bytes | None] = field(default_factory=dict)
    created_dirs: tuple[PurePosixPath, ...] = ()
    labels: dict[PurePosixPath, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChangeSet:
    """What a patch would do, computed without writing (see :func:`preview`).

    ``changes`` is in patch order (one entry per operation). Hand the whole set to
    :func:`commit` to write exactly these bytes; it refuses if a file changed since the preview.
    """

    patch: Patch
    cwd: PurePosixPath
    changes: tuple[FileChange, ...]
    plan: CommitPlan = field(default_factory=CommitPlan, repr=False)

    def change_kinds(self) -> list[tuple[str, ChangeKind]]:
        """``(absolute path, kind)`` per operation: the shape of approvals and ``file_change``."""
        return [(str(c.path), c.kind) for c in self.changes]

    def diff(self) -> str:
        """All per-file diffs concatenated (what a reviewer reads)."""
        return "".join(c.diff for c in self.changes)

    @property
    def summary(self) -> str:
        """Codex's success text for these changes, as :func:`apply` would print it."""
        return ApplyResult.from_changes(self.changes).success_text

    def to_json(self) -> dict[str, object]:
        return {"changes": [c.to_json() for c in self.changes]}


@dataclass(frozen=True)
class ApplyResult:
    """What was written: Codex's ``A``/``M``/``D`` lists, its success text, and the changes."""

    added: tuple[str, ...]
    modified: tuple[str, ...]
    deleted: tuple[str, ...]
    changes: tuple[FileChange, ...]
    #: problems after the commit point (a staged deletion that could not be removed).
    warnings: tuple[str, ...] = ()

    @property
    def success_text(self) -> str:
        """``Success. Updated the following files:`` + ``A``/``M``/``D`` lines (LF-terminated)."""
        lines = ["Success. Updated the following files:"]
        lines += [f"A {p}" for p in self.added]
        lines += [f"M {p}" for p in self.modified]
        lines += [f"D {p}" for p in self.deleted]
        return "\n".join(lines) + "\n"

    def change_kinds(self) -> list[tuple[str, ChangeKind]]:
        """``(absolute path, kind)`` per operation: the shape of approvals and ``file_change``."""
        return [(str(c.path), c.kind) for c in self.changes]

    def to_json(self) -> dict[str, object]:
        return {
            "added": list(self.added),
            "modified": list(self.modified),
            "deleted": list(self.deleted),
            "changes": [c.to_json() for c in self.changes],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_changes(
        cls, changes: tuple[FileChange, ...], warnings: tuple[str, ...] = ()
    ) -> ApplyResult:
        added = tuple(c.display_path for c in changes if c.kind is ChangeKind.ADD)
        modified = tuple(
            c.display_move_path or c.display_path for c in changes if c.kind is ChangeKind.UPDATE
        )
        deleted = tuple(c.display_path for c in changes if c.kind is ChangeKind.DELETE)
        return cls(added, modified, deleted, changes, warnings)
