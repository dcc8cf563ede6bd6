"""Project discovery and trust: which `.codex/` folders between the project root and cwd count.

The root is the nearest ancestor of cwd (cwd included) holding any `project_root_markers` entry
(default `[".git"]`; `[]` means cwd only). Each dir from root down to cwd that has a `.codex/`
directory is a project layer; it is enabled only when the project is trusted in the user's
`[projects."<abs path>"] trust_level`. A project can never trust itself: trust is read from the
system, user and `-c` layers only.

Trust lookup, first hit wins: the dir's own key, the project root's, then -- for a linked git
worktree -- the main checkout's. A worktree inherits only when git itself would call it one:
its `.git` file's `gitdir:` must be ``<main>/.git/worktrees/<name>`` and that directory's
`gitdir` file must point back at this worktree's `.git` (a `.git` file forged to name a trusted
repository, with a `commondir` of its own, trusts nothing).

Whether an enabled layer's *contents* may load is decided afterwards by :mod:`.trust`.

Canonical paths are computed once per directory (:class:`Canonical`): discovery walks cwd's
ancestors, and resolving each from scratch made 50 nested layers cost 40 times one.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

__all__ = ["Canonical", "ProjectDir", "discover_project", "find_project_root", "main_checkout"]


class Canonical:
    """``os.path.realpath`` with a per-path cache: one ``lstat`` per new path component.

    :meth:`seed` marks a path known to be canonical (``os.getcwd()`` always is) so that its
    ancestors cost nothing at all.
    """

    def __init__(self) -> None:
        self._cache: dict[Path, Path] = {}

    def seed(self, path: Path) -> None:
        if path not in self._cache and _kernel_realpath(path) == str(path):
            for known in (path, *path.parents):
                self._cache[known] = known

    def known(self, path: Path, canonical: Path) -> Path:
        """Record that ``path`` is ``canonical`` (the caller has just lstat-ed it)."""
        self._cache[path] = canonical
        return canonical

    def __call__(self, path: Path) -> Path:
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        parent = path.parent
        if parent == path or path.name in ("", ".", ".."):
            result = Path(os.path.realpath(path))
        else:
            candidate = self(parent) / path.name
            result = Path(os.path.realpath(candidate)) if candidate.is_symlink() else candidate
        self._cache[path] = result
        return result


def _kernel_realpath(directory: Path) -> str:
    """The canonical spelling of an existing directory, asked of the kernel in one call.

    ``os.path.realpath`` lstat-s every component, which for a deep tree costs more than the
    rest of discovery; on Linux the kernel names an open descriptor's path directly.
    """
    flags = getattr(os, "O_PATH", 0)
    if flags and os.path.isdir("/proc/self/fd"):
        try:
            fd = os.open(directory, flags | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return os.path.realpath(directory)
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return os.path.realpath(directory)
        finally:
            os.close(fd)
    return os.path.realpath(directory)


@dataclass(frozen=True)
class ProjectDir:
    """One `<dir>/.codex` folder and whether its config may load."""

    dir: Path
    codex_dir: Path
    trust: str | None  # "trusted", "untrusted" or None (unknown)
    trust_key: str
    disabled_reason: str | None

    @property
    def enabled(self) -> bool:
        return self.trust == "trusted"


def find_project_root(cwd: Path, markers: list[str]) -> Path:
    chain = [cwd, *cwd.parents]
    return chain[_root_index(chain, markers)]


def _root_index(chain: list[Path], markers: list[str]) -> int:
    """Index in ``chain`` (cwd first) of the nearest directory holding a marker (0: none)."""
    for index, candidate in enumerate(chain if markers else ()):
        if any(os.path.lexists(os.path.join(candidate, marker)) for marker in markers):
            return index
    return 0


def discover_project(
    cwd: Path,
    markers: list[str],
    projects: dict[str, Any],
    codex_home: Path,
    user_config_path: Path,
    canonical: Canonical | None = None,
) -> tuple[Path, list[ProjectDir], str | None]:
    """Return (project root, project dirs root-first, the trust level of cwd's project)."""
    canon = canonical or Canonical()
    canon.seed(cwd)
    chain = [cwd, *cwd.parents]
    index = _root_index(chain, markers)
    root = chain[index]
    dirs = list(reversed(chain[: index + 1]))
    home = canon(codex_home)
    main = main_checkout(root, canon)
    inherited = _lookup([root, *([main] if main else [])], projects, canon)
    found: list[ProjectDir] = []
    for directory in dirs:
        codex_dir = directory / ".codex"
        try:
            mode = os.lstat(codex_dir).st_mode
        except OSError:
            continue
        if stat.S_ISLNK(mode) and not os.path.isdir(codex_dir):
            continue
        if not stat.S_ISLNK(mode) and not stat.S_ISDIR(mode):
            continue
        if stat.S_ISLNK(mode):
            real = canon(codex_dir)
        else:
            real = canon.known(codex_dir, canon(directory) / ".codex")
        if real == home:
            continue
        trust, key = _lookup([directory], projects, canon) or inherited or (None, str(canon(root)))
        found.append(
            ProjectDir(
                dir=directory,
                codex_dir=codex_dir,
                trust=trust,
                trust_key=key,
                disabled_reason=_reason(trust, key, user_config_path),
            )
        )
    project_trust, _ = _lookup([cwd], projects, canon) or inherited or (None, "")
    return root, found, project_trust


def _lookup(
    candidates: list[Path], projects: dict[str, Any], canon: Canonical
) -> tuple[str | None, str] | None:
    """The first trust entry among ``candidates`` (canonical spelling, then as given)."""
    for candidate in candidates:
        for key in dict.fromkeys([str(canon(candidate)), str(candidate)]):
            entry = projects.get(key)
            if isinstance(entry, dict) and entry.get("trust_level") in ("trusted", "untrusted"):
                return str(entry["trust_level"]), key
    return None


def _reason(trust: str | None, key: str, user_config: Path) -> str | None:
    snippet = f'[projects."{key}"]\ntrust_level = "trusted"'
    if trust == "trusted":
        return None
    if trust == "untrusted":
        return (
            f"{key} is marked as untrusted in {user_config}. To load project-local config,"
            f" hooks, and exec policies, mark it trusted (`codex config trust {key}`):\n{snippet}"
        )
    return (
        f"To load project-local config, hooks, and exec policies, add {key} as a trusted"
        f" project in {user_config} (`codex config trust {key}`):\n{snippet}"
    )


def main_checkout(root: Path, canonical: Canonical | None = None) -> Path | None:
    """For a genuine linked git worktree at ``root``, the main checkout's directory.

    Genuine means what `git worktree add` makes: ``root/.git`` is a file ``gitdir: G`` where
    ``G`` is ``<main>/.git/worktrees/<name>``, ``G/commondir`` leads to ``<main>/.git``, and
    ``G/gitdir`` names ``root/.git`` back. Anything else is not a worktree of a trusted repo.
    """
    canon = canonical or Canonical()
    git = root / ".git"
    if git.is_symlink() or not git.is_file():
        return None
    text = _small_text(git)
    if text is None or not text.startswith("gitdir:"):
        return None
    gitdir = Path(os.path.realpath(root / text.removeprefix("gitdir:").strip()))
    common_text = _small_text(gitdir / "commondir")
    back_text = _small_text(gitdir / "gitdir")
    if common_text is None or back_text is None:
        return None
    common = Path(os.path.realpath(gitdir / common_text.strip()))
    if gitdir.parent != common / "worktrees" or common.name != ".git" or not common.is_dir():
        return None
    back = Path(os.path.realpath(gitdir / back_text.strip()))
    if back != canon(git):
        return None
    return common.parent


def _small_text(path: Path) -> str | None:
    """A git metadata file's text (a path, a few hundred bytes at most), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _NOFOLLOW)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, 4097)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > 4096:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
