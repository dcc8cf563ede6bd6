"""Turn a :class:`SandboxPolicy` into a :class:`SandboxPlan`: the concrete, resolved mounts.

This is the only step that looks at the filesystem (realpath, existence, globs, ``gitdir:``
files, the protected-name scan), so the backends that turn a plan into argv or SBPL text stay
pure functions of data.

Security notes (why things are done this way):

* Every path is resolved with ``realpath`` before it is mounted. Mounts act on real paths, so a
  symlink inside the workspace that points outside, ``/proc/self/root/...``, or a path component
  swapped for a link during the run all resolve to a location that is still read-only.
* ``.git`` (plus a ``gitdir:`` target and its ``commondir``), ``.codex`` and ``.agents`` are
  mounted read-only at *every depth* of the workspace roots (the cwd and the named writable
  roots; :mod:`.guard` finds them), and their ancestors below the root are pinned (bound onto
  themselves: still writable, but a mount point cannot be renamed or removed, so a protected
  directory cannot be moved away and replaced). Directly in every writable root, a missing name
  gets ``/dev/null`` mounted over it, so it cannot be created (bubblewrap creates an empty file
  on the host as the mount point; the runner removes it afterwards). Deeper, names that do not
  exist yet cannot be blocked by any mount; the runner's post-run repair
  (:func:`.guard.repair`) moves aside whatever appeared.
* ``/tmp`` and ``$TMPDIR`` are *shared* roots: every process on the machine writes there, so a
  new ``.git`` cannot be told from another process's (moving it would break that process), and
  the hundreds of throw-away repositories test suites leave there would cost a mount each on
  every call (bubblewrap's mounts cost grows with their number). There only the names directly
  in the root are protected, plus every protected path below.
* ``protected_paths`` (``$CODEX_HOME``, the system dir, the config, rules and requirements files
  the run loaded) stay read-only when they lie below a writable root; a missing one is blocked at
  its first missing component; a symlink on the way is watched: pinned in the sandbox's mount
  namespace before the command starts (:mod:`.netns`), restored after the run otherwise.
* ``deny_read`` entries are expanded (globs too) and masked after every other mount, so no writable
  root or mode can re-expose them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex_admin.errors import CodexError
from codex_admin.sandbox.guard import (
    PROTECTED_NAMES,
    Entry,
    TreeIndex,
    WatchedLink,
    is_mount_point_file,
)
from codex_admin.sandbox.policy import NetworkMode, SandboxMode, SandboxPolicy

__all__ = ["PROTECTED_NAMES", "SandboxPlan", "plan_sandbox"]

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class SandboxPlan:
    """Resolved mounts for one run. Build with :func:`plan_sandbox`, or by hand in tests.

    ``use_sandbox`` is false only for danger-full-access with host network and nothing to mask:
    then the command runs directly, exactly like Codex's "no sandbox".
    """

    mode: SandboxMode
    network: NetworkMode
    cwd: Path
    writable: tuple[Path, ...] = ()
    protected: tuple[Path, ...] = ()
    blocked: tuple[Path, ...] = ()
    masked_dirs: tuple[Path, ...] = ()
    masked_files: tuple[Path, ...] = ()
    pinned: tuple[Path, ...] = ()
    watched: tuple[WatchedLink, ...] = ()
    guarded: tuple[Entry, ...] = ()  # the protected names found before the run (for repair)
    shared: tuple[Path, ...] = ()  # writable roots other processes use too (/tmp, $TMPDIR)
    # Where the command starts when it is not the policy's cwd (the shell tool's `workdir`):
    # only the starting directory; what is writable stays what the policy's cwd decides.
    workdir: Path | None = None

    @property
    def run_dir(self) -> Path:
        """The directory the command starts in."""
        return self.workdir or self.cwd

    @property
    def owned_roots(self) -> tuple[Path, ...]:
        """The writable roots the protected-name scan covers (all but the shared ones)."""
        return tuple(r for r in self.writable if r not in self.shared)

    def in_shared_root(self, path: Path) -> bool:
        """``path``'s nearest writable root is a shared one (see :func:`.guard.repair`)."""
        root = _root_of(path, self.writable)
        return root is not None and root in self.shared

    @property
    def use_sandbox(self) -> bool:
        return not (
            self.mode is SandboxMode.DANGER_FULL_ACCESS
            and self.network is NetworkMode.FULL
            and not self.masked_dirs
            and not self.masked_files
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "network": self.network.value,
            "cwd": str(self.cwd),
            "sandboxed": self.use_sandbox,
            "writable": [str(p) for p in self.writable],
            "protected": [str(p) for p in self.protected],
            "blocked": [str(p) for p in self.blocked],
            "masked_dirs": [str(p) for p in self.masked_dirs],
            "masked_files": [str(p) for p in self.masked_files],
            "pinned": [str(p) for p in self.pinned],
            "shared": [str(p) for p in self.shared],
            "watched_links": [{"path": str(w.path), "target": w.target} for w in self.watched],
        }


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _writable_roots(policy: SandboxPolicy, cwd: Path) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """``(writable roots, the shared ones)``: /tmp and $TMPDIR are shared with every other
    process on the machine, unless the same directory is also the cwd or a named root."""
    if policy.mode is not SandboxMode.WORKSPACE_WRITE:
        return (), ()
    candidates: list[tuple[Path, str]] = [(cwd, "the working directory")]
    candidates += [(Path(r), "writable root") for r in policy.writable_roots]
    if not policy.exclude_slash_tmp:
        candidates.append((Path("/tmp"), "/tmp"))
    if not policy.exclude_tmpdir_env_var and policy.tmpdir is not None:
        candidates.append((policy.tmpdir, "$TMPDIR"))
    roots: list[Path] = []
    owned: set[Path] = set()
    for path, what in candidates:
        if not path.is_absolute():
            path = cwd / path
        if not path.is_dir():
            if what in ("/tmp", "$TMPDIR"):
                continue
            raise CodexError(
                f"{what} {path} does not exist or is not a directory",
                hint="create it first or remove it from sandbox_workspace_write.writable_roots",
            )
        real = _real(path)
        if real == Path("/"):
            raise CodexError(
                f"{what} {path} resolves to /, which would make the whole disk writable",
                hint="use danger-full-access if that is really intended",
            )
        if real not in roots:
            roots.append(real)
        if what not in ("/tmp", "$TMPDIR"):
            owned.add(real)
    # Parents before children, so a nested root's bind is not hidden by its parent's.
    ordered = tuple(sorted(roots, key=lambda p: (len(p.parts), str(p))))
    return ordered, tuple(r for r in ordered if r not in owned)


def _gitdir_targets(dot_git: Path, base: Path, root: Path) -> list[Path]:
    """For a ``.git`` *file* (worktree/submodule), the gitdir it names and its commondir."""
    try:
        text = dot_git.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return []
    first = text.splitlines()[0] if text else ""
    if not first.startswith("gitdir:"):
        return []
    gitdir = Path(first[len("gitdir:") :].strip())
    if not gitdir.is_absolute():
        gitdir = base / gitdir
    targets = [gitdir]
    commondir_file = gitdir / "commondir"
    try:
        common = commondir_file.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        common = ""
    if common:
        targets.append(gitdir / common)
    return [_real(t) for t in targets if t.exists()]


def _ancestors(path: Path) -> list[str]:
    """``path``'s proper ancestors as strings, nearest first (string work: plans can hold
    hundreds of paths, and ``Path.parents`` comparisons dominate otherwise)."""
    text = os.fspath(path)
    out = []
    while (cut := text.rfind("/")) > 0:
        text = text[:cut]
        out.append(text)
    if os.fspath(path) != "/":
        out.append("/")
    return out


def _root_of(path: Path, roots: tuple[Path, ...]) -> Path | None:
    """The deepest writable root holding ``path`` (its mount is the one on top)."""
    by_name = {os.fspath(r): r for r in roots}
    for candidate in [os.fspath(path), *_ancestors(path)]:
        if candidate in by_name:
            return by_name[candidate]
    return None


class _Protection:
    """Accumulates the protection mounts for one plan."""

    def __init__(self, roots: tuple[Path, ...]) -> None:
        self.roots = roots
        self.protected: list[Path] = []
        self.blocked: list[Path] = []
        self.pinned: set[Path] = set()
        self.watched: dict[Path, WatchedLink] = {}

    def _pin_ancestors(self, path: Path) -> None:
        root = _root_of(path, self.roots)
        if root is None or root == path:
            return
        stop = os.fspath(root)
        for parent in _ancestors(path):
            if parent == stop:
                break
            self.pinned.add(Path(parent))

    def read_only(self, real: Path) -> None:
        """Mount ``real`` (an existing real path) read-only if a writable root holds it."""
        if _root_of(real, self.roots) is None:
            return
        self.protected.append(real)
        self._pin_ancestors(real)

    def block(self, path: Path) -> None:
        """``/dev/null`` over a missing ``path`` whose parent is a real directory. Not where
        we cannot write (a read-only filesystem): the command cannot create it there either,
        and bubblewrap could not create its mount point."""
        if _root_of(path.parent, self.roots) is None or not os.access(path.parent, os.W_OK):
            return
        self.blocked.append(path)
        self._pin_ancestors(path)

    def watch(self, link: Path, *, critical: bool) -> None:
        if _root_of(link.parent, self.roots) is None:
            return
        with contextlib.suppress(OSError):
            st = os.lstat(link)
            known = self.watched.get(link)
            critical = critical or (known is not None and known.critical)
            self.watched[link] = WatchedLink(link, os.readlink(link), st.st_ino, critical)
            self._pin_ancestors(link)

    def entry(self, entry: Entry) -> None:
        """A protected name found by the scan."""
        self._pin_ancestors(entry.path)
        if entry.kind != "symlink":
            self.protected.append(entry.path)
            if entry.path.name == ".git" and entry.kind == "file":
                root = _root_of(entry.path, self.roots) or entry.path.parent
                for target in _gitdir_targets(entry.path, entry.path.parent, root):
                    self.read_only(target)
            return
        # A link named .git/.codex/.agents: protect what it points at; watch the link itself.
        self.watch(entry.path, critical=False)
        self.path(entry.path, critical=False)

    def path(self, path: Path, *, critical: bool = True) -> None:
        """A path that must stay read-only (it may not exist, it may pass through symlinks)."""
        real, links, missing = _resolve(path)
        for link in links:
            self.watch(link, critical=critical)
        if real is not None:
            self.read_only(real)
        elif missing is not None:
            self.block(missing)


def _resolve(path: Path) -> tuple[Path | None, list[Path], Path | None]:
    """Follow ``path`` one component at a time: ``(real path or None, the symlinks passed
    through, the first missing component or None)``."""
    current = Path("/")
    pending = list(Path(os.path.abspath(path)).parts[1:])
    links: list[Path] = []
    while pending:
        name = pending.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            current = current.parent
            continue
        candidate = current / name
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            return None, links, candidate if current.is_dir() else None
        except OSError:
            return None, links, None
        if stat.S_ISLNK(st.st_mode):
            if len(links) > 40:
                return None, links, None
            links.append(candidate)
            target = os.readlink(candidate)
            if os.path.isabs(target):
                current = Path("/")
            pending = [*Path(target).parts[1 if os.path.isabs(target) else 0 :], *pending]
            continue
        current = candidate
    return current, links, None


def _expand_deny(entries: tuple[str, ...]) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    dirs: list[Path] = []
    files: list[Path] = []
    for entry in entries:
        pattern = os.path.expanduser(entry)
        if _GLOB_CHARS & set(pattern):
            matches = glob.glob(pattern, recursive=True, include_hidden=True)
        else:
            matches = [pattern] if os.path.lexists(pattern) else []
        for match in sorted(matches):
            real = _real(Path(match))
            if real.is_dir():
                dirs.append(real)
            elif real.exists():
                files.append(real)
    return tuple(dict.fromkeys(dirs)), tuple(dict.fromkeys(files))


def plan_sandbox(policy: SandboxPolicy, *, index: TreeIndex | None = None) -> SandboxPlan:
    """Resolve ``policy`` against the filesystem now. Raises CodexError before any launch.

    ``index`` caches the protected-name scan across the runs of one session (see
    :class:`.guard.TreeIndex`); without one every call scans from scratch.
    """
    if not policy.cwd.is_dir():
        raise CodexError(
            f"working directory {policy.cwd} does not exist", hint="pass an existing -C DIR"
        )
    cwd = _real(policy.cwd)
    writable, shared = _writable_roots(policy, cwd)
    masked_dirs, masked_files = _expand_deny(policy.deny_read)
    guard = _Protection(writable)
    guarded: dict[Path, Entry] = {}
    if writable:
        for path in policy.protected_paths:
            guard.path(path)
        top_blocks = {
            root / name
            for root in writable
            for name in PROTECTED_NAMES
            if not os.path.lexists(root / name) or is_mount_point_file(root / name)
        }
        for path in sorted(top_blocks):
            guard.block(path)
        skip = {*masked_dirs, *shared, *(p for p in guard.protected if p.is_dir())}
        owned = tuple(r for r in writable if r not in shared)
        guarded = (index or TreeIndex()).scan(owned, skip)
        for path, entry in sorted(guarded.items()):
            if path not in top_blocks:
                guard.entry(entry)
        # Shared roots (/tmp, $TMPDIR): the names directly inside, as Codex does (see the
        # module docstring for why not deeper).
        for root in shared:
            for name in PROTECTED_NAMES:
                path = root / name
                if path not in top_blocks and os.path.lexists(path):
                    with contextlib.suppress(OSError):
                        guard.entry(Entry.of(path, os.lstat(path)))

    def ordered(paths: Any) -> tuple[Path, ...]:
        return tuple(sorted(dict.fromkeys(paths), key=lambda p: (len(p.parts), str(p))))

    # Inside a read-only protected directory nothing can be created or moved anyway: no block
    # (bubblewrap could not create its mount point there) and no pin is needed.
    read_only_dirs = {os.fspath(p) for p in guard.protected if p.is_dir()}

    def outside_read_only(path: Path) -> bool:
        return read_only_dirs.isdisjoint(_ancestors(path))

    return SandboxPlan(
        mode=policy.mode,
        network=policy.network,
        cwd=cwd,
        writable=writable,
        protected=ordered(guard.protected),
        blocked=ordered(p for p in guard.blocked if outside_read_only(p)),
        masked_dirs=masked_dirs,
        masked_files=masked_files,
        pinned=ordered(
            p
            for p in guard.pinned
            if p not in writable and os.fspath(p) not in read_only_dirs and outside_read_only(p)
        ),
        watched=tuple(guard.watched[p] for p in sorted(guard.watched)),
        guarded=tuple(guarded[p] for p in sorted(guarded)),
        shared=shared,
    )
