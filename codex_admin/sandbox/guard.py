"""Protected names at every depth of a writable root: find them before a run, repair after it.

``.git``, ``.codex`` and ``.agents`` decide what the *next* run trusts (project config, rules,
skills, git hooks and ``core.fsmonitor``), so a sandboxed command must not create or change them
anywhere below a writable root. Mounts can only protect what exists when the sandbox starts, and
seccomp cannot see paths, so the protection has two halves:

* before the run, :meth:`TreeIndex.scan` finds every protected name at any depth; the plan
  mounts each read-only and pins its ancestors (a directory bound onto itself cannot be renamed
  or removed, so a protected directory cannot be moved away and replaced);
* after the run -- when every process of the sandbox is gone: bubblewrap's PID namespace dies
  with its init -- :func:`repair` scans again, moves aside every protected name that appeared
  (``sub/.codex`` becomes ``sub/.codex.codex-quarantine-<stamp>``, never deleted: a person may
  have created it on the host meanwhile) and puts back a protected symlink the command removed
  or replaced. (Such links are normally pinned before the command starts, see :mod:`.netns`;
  bubblewrap itself can only mount *through* a symlink, so this is the fallback.)

The window between creation and repair is the run itself. /tmp and $TMPDIR are shared with
every other process, so there only the names directly in the root are protected (see
:mod:`.plan`). SECURITY.md states the guarantees and their limits.

Scanning a large tree each call would be slow, so :class:`TreeIndex` remembers each directory's
subdirectories and protected entries, keyed by its inode and ``st_ctime_ns``. Any change to a
directory's entries (create, remove, rename in or out) updates its ctime, which no unprivileged
process can set, so an unchanged ctime proves an unchanged listing. A listing taken within
:data:`CTIME_MARGIN_NS` of the directory's last change is not trusted (timestamps are coarse).
A rescan therefore costs one ``lstat`` per directory plus a listing of the directories that did
change.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CTIME_MARGIN_NS",
    "PROTECTED_NAMES",
    "Entry",
    "Repair",
    "TreeIndex",
    "WatchedLink",
    "is_mount_point_file",
    "repair",
]

#: Names kept read-only at every depth of every writable root.
PROTECTED_NAMES: tuple[str, ...] = (".git", ".codex", ".agents")

#: A directory listed this close to its last change is listed again next time.
CTIME_MARGIN_NS = 50_000_000

_QUARANTINE = ".codex-quarantine-"


@dataclass(frozen=True)
class Entry:
    """A protected name found in a scan: what it is, and its identity."""

    path: Path
    kind: str  # dir | file | symlink | other
    dev: int
    ino: int
    target: str | None = None  # for a symlink, what it points at

    @classmethod
    def of(cls, path: Path, st: os.stat_result) -> Entry:
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            kind, target = "symlink", os.readlink(path)
        else:
            kind = "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"
            target = None
        return cls(path, kind, st.st_dev, st.st_ino, target)


@dataclass(frozen=True)
class WatchedLink:
    """A symlink that decides what a later run reads; restored after the run if changed.

    ``critical`` links lie on the way to a protected path ($CODEX_HOME, a loaded config file):
    they are restored even in a shared root.
    """

    path: Path
    target: str
    ino: int
    critical: bool = False

    def intact(self) -> bool:
        try:
            st = os.lstat(self.path)
            return st.st_ino == self.ino and os.readlink(self.path) == self.target
        except OSError:
            return False


@dataclass(frozen=True)
class Repair:
    """One thing :func:`repair` did after a run."""

    path: Path
    action: str  # quarantined | restored | failed
    moved_to: Path | None = None
    detail: str = ""

    def to_json(self) -> dict[str, str | None]:
        return {
            "path": str(self.path),
            "action": self.action,
            "moved_to": str(self.moved_to) if self.moved_to else None,
            "detail": self.detail,
        }

    def message(self) -> str:
        if self.action == "quarantined":
            return (
                f"{self.path} appeared during the run; protected names (.git, .codex, .agents) "
                f"cannot be created in a writable root: moved aside to {self.moved_to}"
            )
        if self.action == "restored":
            return f"{self.path} was removed or replaced during the run; restored the symlink"
        return f"could not repair {self.path}: {self.detail}"


@dataclass(frozen=True)
class _Listing:
    ino: int
    ctime_ns: int
    trusted: bool
    subdirs: tuple[str, ...]
    protected: tuple[Entry, ...]


class TreeIndex:
    """Protected entries below writable roots, with a per-directory cache (see module doc).

    One index per sandbox session; it is only an optimisation: a fresh index gives the same
    answers, slower. Paths are plain strings inside (a rescan visits every directory, and
    :class:`~pathlib.Path` arithmetic would cost more than the ``lstat``).
    """

    def __init__(self) -> None:
        self._dirs: dict[str, _Listing] = {}
        self.unreadable: set[str] = set()

    def scan(self, roots: Sequence[Path], skip: Collection[Path] = ()) -> dict[Path, Entry]:
        """Every protected entry at any depth below ``roots`` (real paths), not descending into
        protected entries, ``skip`` (read-only mounts) or symlinks."""
        found: dict[Path, Entry] = {}
        seen: set[str] = set()
        skipped = {str(p) for p in skip}
        stack = [str(root) for root in roots if str(root) not in skipped]
        while stack:
            directory = stack.pop()
            if directory in seen:
                continue
            seen.add(directory)
            listing = self._listing(directory)
            if listing is None:
                continue
            for entry in listing.protected:
                found[entry.path] = entry
            prefix = directory.rstrip("/") + "/"
            for name in listing.subdirs:
                child = prefix + name
                if child not in skipped and child not in seen:
                    stack.append(child)
        return found

    def _listing(self, directory: str) -> _Listing | None:
        try:
            st = os.lstat(directory)
        except OSError:
            self._dirs.pop(directory, None)
            return None
        cached = self._dirs.get(directory)
        if (
            cached is not None
            and cached.trusted
            and cached.ino == st.st_ino
            and cached.ctime_ns == st.st_ctime_ns
        ):
            return cached
        listed_at = time.time_ns()
        subdirs: list[str] = []
        protected: list[Entry] = []
        try:
            with os.scandir(directory) as entries:
                for item in entries:
                    if item.name in PROTECTED_NAMES:
                        with contextlib.suppress(OSError):
                            protected.append(Entry.of(Path(item.path), os.lstat(item.path)))
                    elif item.is_dir(follow_symlinks=False):
                        subdirs.append(item.name)
        except OSError:
            # Not listable by us (and so, with the same uid and no capabilities, not by the
            # command either, unless it is write-and-search-only): check the names directly.
            self.unreadable.add(directory)
            for name in PROTECTED_NAMES:
                with contextlib.suppress(OSError):
                    path = os.path.join(directory, name)
                    protected.append(Entry.of(Path(path), os.lstat(path)))
            return _Listing(st.st_ino, st.st_ctime_ns, False, (), tuple(protected))
        listing = _Listing(
            st.st_ino,
            st.st_ctime_ns,
            st.st_ctime_ns < listed_at - CTIME_MARGIN_NS,
            tuple(subdirs),
            tuple(protected),
        )
        self._dirs[directory] = listing
        return listing


def _quarantine(path: Path) -> Repair:
    stamp = time.strftime("%Y%m%dT%H%M%S") + "-" + os.urandom(3).hex()
    target = path.with_name(f"{path.name}{_QUARANTINE}{stamp}")
    try:
        os.rename(path, target)
    except OSError as err:
        return Repair(path, "failed", detail=f"cannot move it aside: {err.strerror or err}")
    return Repair(path, "quarantined", target)


def _restore(link: WatchedLink) -> list[Repair]:
    repairs: list[Repair] = []
    if os.path.lexists(link.path):
        moved = _quarantine(link.path)
        repairs.append(moved)
        if moved.action == "failed":
            return repairs
    try:
        os.symlink(link.target, link.path)
    except OSError as err:
        repairs.append(Repair(link.path, "failed", detail=f"cannot restore: {err.strerror}"))
    else:
        repairs.append(Repair(link.path, "restored", detail=f"-> {link.target}"))
    return repairs


def is_mount_point_file(path: Path) -> bool:
    """An empty read-only regular file: what bubblewrap leaves as a mount point for a block."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == 0 and st.st_mode & 0o222 == 0


def repair(
    before: Mapping[Path, Entry],
    after: Mapping[Path, Entry],
    links: Iterable[WatchedLink],
    *,
    shared: Callable[[Path], bool] = lambda path: False,
) -> list[Repair]:
    """Undo what a finished run did to protected names: quarantine every entry in ``after``
    that ``before`` does not have (same path, kind, inode and link target), and restore every
    watched symlink that is gone or different.

    Where ``shared(path)`` (/tmp or $TMPDIR, which every process on the machine writes) nothing
    is moved: the command's entries cannot be told from another process's, and moving someone
    else's ``.git`` mid-test is a harm of its own; only a ``critical`` link (on the way to
    $CODEX_HOME or a loaded config file) is restored there. Empty read-only files are left
    alone: they are this or a concurrent run's ``/dev/null`` blocks (moving one would lift the
    block inside a sandbox still running; the runner's janitor removes them), and an empty file
    cannot carry configuration.
    """
    repairs: list[Repair] = []
    watched = {link.path: link for link in links}
    for path, entry in sorted(after.items()):
        if path in watched or before.get(path) == entry:
            continue
        if entry.kind == "file" and is_mount_point_file(path):
            continue
        if not shared(path):
            repairs.append(_quarantine(path))
    for link in watched.values():
        if not link.intact() and (link.critical or not shared(link.path)):
            repairs.extend(_restore(link))
    return repairs
