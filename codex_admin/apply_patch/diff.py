"""Per-file unified diffs in git's format, for approvals, reviewers and ``file_change`` items.

``git apply`` accepts what this builds: ``diff --git`` headers with ``new file mode`` /
``deleted file mode`` / ``rename from``/``to``, ``---``/``+++`` lines, ``Binary files ... differ``
for non-UTF-8 contents, and git's ``\\ No newline at end of file`` marker. Names are relative to
the working directory; files outside it get plain ``---``/``+++`` headers with absolute names.
The hunks of an update come from :mod:`.text` (built from the edit script itself).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from codex_admin.apply_patch.fs_types import FileKind, FileStat
from codex_admin.apply_patch.text import NO_NEWLINE, hunk_range, split_lines

__all__ = [
    "add_hunks",
    "binary",
    "decode",
    "delete_hunks",
    "diff_name",
    "git_mode",
    "headers",
    "replace_hunks",
]


def diff_name(cwd: PurePosixPath, lexical: PurePosixPath) -> str:
    """The name a diff uses: relative to the working directory when inside it, else absolute."""
    if cwd in lexical.parents:
        return lexical.relative_to(cwd).as_posix()
    return str(lexical)


def git_mode(stat: FileStat | None) -> str:
    if stat is not None and stat.kind is FileKind.SYMLINK:
        return "120000"
    return "100755" if stat is not None and stat.mode & 0o111 else "100644"


def headers(old: str | None, new: str | None, *, mode: str = "100644", body: bool = True) -> str:
    """``git diff`` headers (``diff --git``, new/deleted mode, rename) for relative names.

    ``git apply`` accepts the result. Absolute names (files outside the working directory) get
    plain unified ``---``/``+++`` lines only.
    """
    left, right = old or new, new or old
    lines: list[str] = []
    if not any(name is not None and name.startswith("/") for name in (old, new)):
        lines.append(f"diff --git a/{left} b/{right}")
        if old is None:
            lines.append(f"new file mode {mode}")
        elif new is None:
            lines.append(f"deleted file mode {mode}")
        elif old != new:
            lines += [f"rename from {old}", f"rename to {new}"]
    if body:
        lines.append("--- " + ("/dev/null" if old is None else _prefixed("a", old)))
        lines.append("+++ " + ("/dev/null" if new is None else _prefixed("b", new)))
    return "\n".join(lines) + "\n" if lines else ""


def _prefixed(prefix: str, name: str) -> str:
    return name if name.startswith("/") else f"{prefix}/{name}"


def decode(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def replace_hunks(old: str, new: str) -> str:
    """Hunks replacing every line of ``old`` by ``new`` (an Add over an existing file)."""
    removed = delete_hunks(old)
    added = add_hunks(new)
    if not removed:
        return added
    if not added:
        return removed
    old_range = removed.split(" ", 2)[1]
    new_range = added.split(" ", 3)[2]
    return f"@@ {old_range} {new_range} @@\n" + removed.split("\n", 1)[1] + added.split("\n", 1)[1]


def binary(old: str | None, new: str | None) -> str:
    left = "/dev/null" if old is None else _prefixed("a", old)
    right = "/dev/null" if new is None else _prefixed("b", new)
    return f"Binary files {left} and {right} differ\n"


def add_hunks(text: str) -> str:
    """Hunks of a new file with ``text`` (empty for an empty file)."""
    lines, endings = split_lines(text)
    if not lines:
        return ""
    body = "".join(f"+{line}\n" for line in lines)
    tail = NO_NEWLINE if endings[-1] == "" else ""
    return f"@@ -0,0 +{hunk_range(0, len(lines))} @@\n{body}{tail}"


def delete_hunks(text: str) -> str:
    """Hunks of deleting a file that held ``text``."""
    lines, endings = split_lines(text)
    if not lines:
        return ""
    body = "".join(f"-{line}\n" for line in lines)
    tail = NO_NEWLINE if endings[-1] == "" else ""
    return f"@@ -{hunk_range(0, len(lines))} +0,0 @@\n{body}{tail}"
