"""Project discovery and trust: which `.codex/` folders between the project root and cwd count.

The root is the nearest ancestor of cwd (cwd included) holding any `project_root_markers` entry
(default `[".git"]`; `[]` means cwd only). Each dir from root down to cwd that has a `.codex/`
directory is a project layer; it is enabled only when the project is trusted in the user's
`[projects."<abs path>"] trust_level`. A project can never trust itself: trust is read from the
system, user and `-c` layers only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ProjectDir", "discover_project", "find_project_root"]


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
    if not markers:
        return cwd
    for candidate in (cwd, *cwd.parents):
        if any((candidate / marker).exists() for marker in markers):
            return candidate
    return cwd


def discover_project(
    cwd: Path,
    markers: list[str],
    projects: dict[str, Any],
    codex_home: Path,
    user_config_path: Path,
) -> tuple[Path, list[ProjectDir], str | None]:
    """Return (project root, project dirs root-first, the trust level of cwd's project)."""
    root = find_project_root(cwd, markers)
    chain = [cwd, *cwd.parents]
    dirs = list(reversed(chain[: chain.index(root) + 1])) if root in chain else [cwd]
    home = _canonical(codex_home)
    main_checkout = _main_checkout(root)
    found: list[ProjectDir] = []
    for directory in dirs:
        codex_dir = directory / ".codex"
        if not codex_dir.is_dir() or _canonical(codex_dir) == home:
            continue
        trust, key = _trust(directory, root, main_checkout, projects)
        found.append(
            ProjectDir(
                dir=directory,
                codex_dir=codex_dir,
                trust=trust,
                trust_key=key,
                disabled_reason=_reason(trust, key, user_config_path),
            )
        )
    project_trust, _ = _trust(cwd, root, main_checkout, projects)
    return root, found, project_trust


def _trust(
    directory: Path, root: Path, main_checkout: Path | None, projects: dict[str, Any]
) -> tuple[str | None, str]:
    """First hit wins: the dir's own key, the project root's, the main checkout's."""
    candidates = [directory, root] + ([main_checkout] if main_checkout else [])
    for candidate in candidates:
        for key in dict.fromkeys([str(_canonical(candidate)), str(candidate)]):
            entry = projects.get(key)
            if isinstance(entry, dict) and entry.get("trust_level") in ("trusted", "untrusted"):
                return str(entry["trust_level"]), key
    return None, str(_canonical(root))


def _reason(trust: str | None, key: str, user_config: Path) -> str | None:
    snippet = f'[projects."{key}"]\ntrust_level = "trusted"'
    if trust == "trusted":
        return None
    if trust == "untrusted":
        return (
            f"{key} is marked as untrusted in {user_config}. To load project-local config,"
            f" hooks, and exec policies, mark it trusted:\n{snippet}"
        )
    return (
        f"To load project-local config, hooks, and exec policies, add {key} as a trusted"
        f" project in {user_config}:\n{snippet}"
    )


def _main_checkout(root: Path) -> Path | None:
    """For a linked git worktree (`.git` is a file), the main checkout's directory."""
    git = root / ".git"
    if not git.is_file():
        return None
    try:
        text = git.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("gitdir:"):
        return None
    gitdir = (root / text.removeprefix("gitdir:").strip()).resolve()
    commondir = gitdir / "commondir"
    try:
        common = (gitdir / commondir.read_text(encoding="utf-8").strip()).resolve()
    except (OSError, UnicodeDecodeError):
        return None
    return common.parent if common.name == ".git" else None


def _canonical(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()
