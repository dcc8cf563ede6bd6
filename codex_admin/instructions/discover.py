"""Find and read the AGENTS.md files for a working directory, exactly as Codex does (spec §6).

Era: Codex 0.169.0 (checked against the binary's request to a local mock server):

* Global: ``$CODEX_HOME/AGENTS.override.md`` when it has non-blank text, else
  ``$CODEX_HOME/AGENTS.md``; trimmed. It does not count against the project budget.
* Project: the Git root is the nearest directory at or above the (canonical) cwd holding a
  ``.git`` directory or file; without one only the cwd is searched. From the root down to the cwd,
  each directory contributes the first entry that exists (a file or a symlink) among
  ``AGENTS.override.md``, ``AGENTS.md`` and ``project_doc_fallback_filenames``.
* Budget: ``project_doc_max_bytes`` (default 32 KiB) over all project files in order; a file is
  cut to what is left (with Codex's warning); blank files are skipped and cost nothing; once the
  budget is spent the rest is not read; ``0`` disables project files (the global file stays).
* Joining: project files with a blank line between them (verbatim, not trimmed); the global
  text first, then ``--- project-doc ---``. The model receives one user message:
  ``# AGENTS.md instructions for <cwd>`` (no ``for ...`` without project files), then the text
  inside ``<INSTRUCTIONS>`` ... ``</INSTRUCTIONS>``.

Safety, beyond Codex (the files are written by whoever wrote the repository):

* a file covered by ``deny_read`` (as written or resolved) or outside ``readable_roots`` is never
  opened; a project file whose symlink resolves outside the repository (the Git root, or the cwd
  without one) is skipped with a warning; the global file may be a symlink anywhere (dotfiles);
* only regular files are read: opened ``O_NONBLOCK`` and checked with ``fstat``, so a FIFO or
  device never blocks; at most the remaining budget is read (1 MiB for the global file);
* invalid UTF-8 becomes U+FFFD (as Codex); a ``</INSTRUCTIONS>`` in a file is escaped to
  ``<\\/INSTRUCTIONS>`` (as newer Codex does) so a file cannot close the block early.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from codex_admin.pathrules import DenyReadRules

__all__ = [
    "DEFAULT_PROJECT_DOC_MAX_BYTES",
    "GLOBAL_DOC_MAX_BYTES",
    "PROJECT_DOC_SEPARATOR",
    "DocSource",
    "Instructions",
    "candidate_filenames",
    "find_git_root",
    "load_instructions",
]

DEFAULT_PROJECT_DOC_MAX_BYTES = 32 * 1024
GLOBAL_DOC_MAX_BYTES = 1024 * 1024
PROJECT_DOC_SEPARATOR = "\n\n--- project-doc ---\n\n"
DEFAULT_FILENAME = "AGENTS.md"
OVERRIDE_FILENAME = "AGENTS.override.md"
_CLOSE_TAG = re.compile(re.escape("</INSTRUCTIONS>"), re.IGNORECASE)
# Rust's `str::trim` strips Unicode White_Space; Python's str.strip() also strips U+001C..U+001F.
_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


@dataclass(frozen=True)
class DocSource:
    """One candidate file and what became of it.

    ``status``: ``used`` (its text is in the prompt, maybe ``truncated``), ``empty`` (blank, so
    skipped at no cost) or ``skipped`` (not read, see ``reason``).
    """

    path: Path
    scope: str  # "global" or "project"
    status: str
    size: int | None = None
    bytes_used: int = 0
    truncated: bool = False
    reason: str | None = None
    real_path: Path | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "real_path": str(self.real_path) if self.real_path is not None else None,
            "scope": self.scope,
            "status": self.status,
            "size": self.size,
            "bytes_used": self.bytes_used,
            "truncated": self.truncated,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Instructions:
    """What the agent sends: the global text, the joined project files, and the sources."""

    cwd: Path
    git_root: Path | None
    project_doc_max_bytes: int
    sources: tuple[DocSource, ...] = ()
    warnings: tuple[str, ...] = ()
    user_instructions: str | None = None
    project_doc: str | None = None

    @property
    def project_bytes_used(self) -> int:
        return sum(s.bytes_used for s in self.sources if s.scope == "project")

    @property
    def text(self) -> str | None:
        """The instructions text: global first, then ``--- project-doc ---`` and the project."""
        if self.user_instructions and self.project_doc:
            return self.user_instructions + PROJECT_DOC_SEPARATOR + self.project_doc
        return self.user_instructions or self.project_doc or None

    @property
    def message(self) -> str | None:
        """The user-role message Codex sends (None when there is nothing to send)."""
        text = self.text
        if text is None:
            return None
        header = "# AGENTS.md instructions"
        if self.project_doc:
            header += f" for {self.cwd}"
        body = _CLOSE_TAG.sub(r"<\\/INSTRUCTIONS>", text)
        return f"{header}\n\n<INSTRUCTIONS>\n{body}\n</INSTRUCTIONS>"

    def to_json(self) -> dict[str, object]:
        return {
            "cwd": str(self.cwd),
            "git_root": str(self.git_root) if self.git_root is not None else None,
            "project_doc_max_bytes": self.project_doc_max_bytes,
            "project_bytes_used": self.project_bytes_used,
            "sources": [s.to_json() for s in self.sources],
            "warnings": list(self.warnings),
            "user_instructions": self.user_instructions,
            "project_doc": self.project_doc,
            "text": self.text,
            "message": self.message,
        }


def candidate_filenames(fallback_filenames: Iterable[str] = ()) -> list[str]:
    """``AGENTS.override.md``, ``AGENTS.md``, then the fallbacks (blank and repeats dropped)."""
    names = [OVERRIDE_FILENAME, DEFAULT_FILENAME]
    for name in fallback_filenames:
        if name and name not in names:
            names.append(name)
    return names


def find_git_root(cwd: Path) -> Path | None:
    """The nearest directory at or above ``cwd`` with a ``.git`` directory or file."""
    for directory in (cwd, *cwd.parents):
        try:
            os.stat(directory / ".git")
        except FileNotFoundError:
            continue
        except OSError:
            return None  # unreadable: do not guess a root above it
        return directory
    return None


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class _Reader:
    def __init__(self, deny_read: Sequence[str], readable_roots: Sequence[Path] | None) -> None:
        plain = [e for e in deny_read if not set("*?[") & set(e)]
        resolved = [os.path.realpath(e) for e in plain]
        self.deny = DenyReadRules([*deny_read, *resolved])
        self.readable = (
            None if readable_roots is None else [Path(os.path.realpath(r)) for r in readable_roots]
        )
        self.warnings: list[str] = []

    def refusal(self, path: Path, real: Path) -> str | None:
        """Why ``path`` may not be read, or None."""
        for candidate in (path, real):
            entry = self.deny.match(str(candidate))
            if entry is not None:
                return f"covered by deny_read ({entry})"
        if self.readable is not None and not any(_within(real, r) for r in self.readable):
            return "outside the readable roots"
        return None

    def read(self, path: Path, limit: int) -> tuple[bytes, int]:
        """Up to ``limit`` bytes of regular file ``path`` and its size; OSError otherwise."""
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise OSError(errno.EINVAL, "not a regular file", str(path))
            chunks: list[bytes] = []
            remaining = limit
            while remaining > 0:
                block = os.read(fd, min(remaining, 1 << 16))
                if not block:
                    break
                chunks.append(block)
                remaining -= len(block)
            return b"".join(chunks), info.st_size
        finally:
            os.close(fd)


def _global_doc(codex_home: Path, reader: _Reader) -> tuple[str | None, list[DocSource]]:
    sources: list[DocSource] = []
    for name in (OVERRIDE_FILENAME, DEFAULT_FILENAME):
        path = codex_home / name
        if not os.path.lexists(path):
            continue
        real = Path(os.path.realpath(path))
        refusal = reader.refusal(path, real)
        if refusal is not None:
            sources.append(DocSource(path, "global", "skipped", reason=refusal, real_path=real))
            reader.warnings.append(f"{path} is {refusal}; not read")
            continue
        try:
            data, size = reader.read(path, GLOBAL_DOC_MAX_BYTES)
        except OSError as error:
            reason = f"cannot be read: {error.strerror or error}"
            sources.append(DocSource(path, "global", "skipped", reason=reason, real_path=real))
            reader.warnings.append(f"{path} {reason}")
            continue
        text = data.decode("utf-8", "replace").strip(_WHITESPACE)
        truncated = size > len(data)
        if truncated:
            reader.warnings.append(
                f"Loaded only {len(data)} of {size} bytes from `{path}`: global instructions are"
                f" limited to {GLOBAL_DOC_MAX_BYTES} bytes."
            )
        if not text:
            sources.append(DocSource(path, "global", "empty", size=size, real_path=real))
            continue
        sources.append(
            DocSource(path, "global", "used", size, len(data), truncated, real_path=real)
        )
        return text, sources
    return None, sources


def _project_files(search: list[Path], names: list[str]) -> list[Path]:
    found: list[Path] = []
    for directory in search:
        for name in names:
            candidate = directory / name
            try:
                info = os.lstat(candidate)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
                found.append(candidate)
                break
    return found


def load_instructions(
    cwd: str | os.PathLike[str],
    *,
    codex_home: str | os.PathLike[str] | None = None,
    project_doc_max_bytes: int = DEFAULT_PROJECT_DOC_MAX_BYTES,
    fallback_filenames: Sequence[str] = (),
    deny_read: Sequence[str] = (),
    readable_roots: Sequence[str | os.PathLike[str]] | None = None,
) -> Instructions:
    """Discover and read the instructions for ``cwd`` (see the module docstring).

    Plain parameters so the agent (from its sandbox plan) and ``codex instructions show`` (from
    the effective config) build the same thing. ``readable_roots=None`` means everything is
    readable. Never raises for a bad file: it is skipped and reported in ``sources``/``warnings``.
    """
    given = Path(os.path.abspath(cwd))
    canonical = Path(os.path.realpath(given))
    roots = None if readable_roots is None else [Path(r) for r in readable_roots]
    reader = _Reader(list(deny_read), roots)
    sources: list[DocSource] = []
    user_text: str | None = None
    if codex_home is not None:
        user_text, sources = _global_doc(Path(codex_home), reader)
    git_root = find_git_root(canonical)
    budget = max(0, project_doc_max_bytes)
    parts: list[str] = []
    if budget > 0:
        if git_root is not None:
            search = [d for d in reversed((canonical, *canonical.parents)) if _within(d, git_root)]
        else:
            search = [canonical]
        repository = git_root or canonical
        remaining = budget
        for path in _project_files(search, candidate_filenames(fallback_filenames)):
            source, text = _read_project_file(path, repository, remaining, budget, reader)
            sources.append(source)
            if text is not None:
                parts.append(text)
                remaining -= source.bytes_used
    return Instructions(
        cwd=given,
        git_root=git_root,
        project_doc_max_bytes=budget,
        sources=tuple(sources),
        warnings=tuple(reader.warnings),
        user_instructions=user_text,
        project_doc="\n\n".join(parts) if parts else None,
    )


def _read_project_file(
    path: Path, repository: Path, remaining: int, budget: int, reader: _Reader
) -> tuple[DocSource, str | None]:
    real = Path(os.path.realpath(path))
    if remaining <= 0:
        reason = "project_doc_max_bytes is used up"
        return DocSource(path, "project", "skipped", reason=reason, real_path=real), None
    if not _within(real, Path(os.path.realpath(repository))):
        reason = f"its symlink points outside the repository ({real})"
        reader.warnings.append(f"Skipping `{path}`: {reason}.")
        return DocSource(path, "project", "skipped", reason=reason, real_path=real), None
    refusal = reader.refusal(path, real)
    if refusal is not None:
        reader.warnings.append(f"Skipping `{path}`: it is {refusal}.")
        return DocSource(path, "project", "skipped", reason=refusal, real_path=real), None
    try:
        data, size = reader.read(path, remaining)
    except FileNotFoundError:
        reason = "dangling symlink"
        return DocSource(path, "project", "skipped", reason=reason, real_path=real), None
    except OSError as error:
        reason = f"cannot be read: {error.strerror or error}"
        reader.warnings.append(f"Skipping `{path}`: {reason}.")
        return DocSource(path, "project", "skipped", reason=reason, real_path=real), None
    text = data.decode("utf-8", "replace")
    if not text.strip(_WHITESPACE):
        return DocSource(path, "project", "empty", size=size, real_path=real), None
    truncated = size > remaining
    if truncated:
        reader.warnings.append(
            f"Loaded only {len(data)} of {size} bytes from `{path}` under the {budget}-byte"
            " project instruction budget. Trim your project instructions to fit the budget."
            " If you need to keep them all, increase `project_doc_max_bytes`."
        )
    source = DocSource(path, "project", "used", size, len(data), truncated, real_path=real)
    return source, text
