"""Turn a :class:`SandboxPolicy` into a :class:`SandboxPlan`: the concrete, resolved mounts.

This is the only step that looks at the filesystem (realpath, existence, globs, ``gitdir:``
files), so the backends that turn a plan into argv or SBPL text stay pure functions of data.

Security notes (why things are done this way):

* Every path is resolved with ``realpath`` before it is mounted. Mounts act on real paths, so a
  symlink inside the workspace that points outside, ``/proc/self/root/...``, or a path component
  swapped for a link during the run all resolve to a location that is still read-only.
* ``.git`` (plus a ``gitdir:`` target and its ``commondir``), ``.codex`` and ``.agents`` inside
  every writable root are mounted read-only. When one does not exist yet, ``/dev/null`` is mounted
  over it, so it cannot be created (and a mount point cannot be renamed or removed). bubblewrap has
  to create an empty file on the host as the mount point; the runner removes it afterwards.
* ``deny_read`` entries are expanded (globs too) and masked after every other mount, so no writable
  root or mode can re-expose them.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex_admin.errors import CodexError
from codex_admin.sandbox.policy import NetworkMode, SandboxMode, SandboxPolicy

__all__ = ["PROTECTED_NAMES", "SandboxPlan", "plan_sandbox"]

#: Names kept read-only inside every writable root.
PROTECTED_NAMES: tuple[str, ...] = (".git", ".codex", ".agents")

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
        }


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _within(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def is_bwrap_mount_point(path: Path) -> bool:
    """An empty read-only regular file: what bubblewrap leaves as a mount point for a block."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return (st.st_mode & 0o170000) == 0o100000 and st.st_size == 0 and st.st_mode & 0o222 == 0


def _writable_roots(policy: SandboxPolicy, cwd: Path) -> tuple[Path, ...]:
    if policy.mode is not SandboxMode.WORKSPACE_WRITE:
        return ()
    candidates: list[tuple[Path, str]] = [(cwd, "the working directory")]
    candidates += [(Path(r), "writable root") for r in policy.writable_roots]
    if not policy.exclude_slash_tmp:
        candidates.append((Path("/tmp"), "/tmp"))
    if not policy.exclude_tmpdir_env_var and policy.tmpdir is not None:
        candidates.append((policy.tmpdir, "$TMPDIR"))
    roots: list[Path] = []
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
    # Parents before children, so a nested root's bind is not hidden by its parent's.
    return tuple(sorted(roots, key=lambda p: (len(p.parts), str(p))))


def _gitdir_targets(dot_git: Path, root: Path) -> list[Path]:
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
        gitdir = root / gitdir
    targets = [gitdir]
    commondir_file = gitdir / "commondir"
    try:
        common = commondir_file.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        common = ""
    if common:
        targets.append(gitdir / common)
    return [_real(t) for t in targets if t.exists()]


def _protect(
    roots: tuple[Path, ...],
) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    protected: list[Path] = []
    blocked: list[Path] = []
    for root in roots:
        for name in PROTECTED_NAMES:
            path = root / name
            if is_bwrap_mount_point(path) or not os.path.lexists(path):
                blocked.append(path)
                continue
            real = _real(path)
            if path.is_symlink():
                # A link named .git/.codex/.agents: protect what it points at when that is
                # writable; when the target is missing, block its creation.
                if real.exists():
                    if _within(real, roots):
                        protected.append(real)
                elif _within(real.parent, roots) and real.parent.is_dir():
                    blocked.append(real)
                continue
            protected.append(real)
            if name == ".git" and path.is_file():
                protected += [t for t in _gitdir_targets(path, root) if _within(t, roots)]
    return tuple(dict.fromkeys(protected)), tuple(dict.fromkeys(blocked))


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


def plan_sandbox(policy: SandboxPolicy) -> SandboxPlan:
    """Resolve ``policy`` against the filesystem now. Raises CodexError before any launch."""
    if not policy.cwd.is_dir():
        raise CodexError(
            f"working directory {policy.cwd} does not exist", hint="pass an existing -C DIR"
        )
    cwd = _real(policy.cwd)
    writable = _writable_roots(policy, cwd)
    protected, blocked = _protect(writable)
    masked_dirs, masked_files = _expand_deny(policy.deny_read)
    return SandboxPlan(
        mode=policy.mode,
        network=policy.network,
        cwd=cwd,
        writable=writable,
        protected=protected,
        blocked=blocked,
        masked_dirs=masked_dirs,
        masked_files=masked_files,
    )
