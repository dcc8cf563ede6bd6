"""Codex's apply_patch: parse the patch format, preview, check, and apply it (spec §5).

Era: Codex CLI 0.169.0 (the newest): per-line line endings (CRLF files stay CRLF), context lines
keep the file's own text, error and success texts byte-for-byte as the binary prints them.

How the agent uses it (preview -> check -> approval -> commit)::

    invocation = detect_invocation(argv)          # shell heredoc / direct call, or None
    patch = parse(invocation.patch)               # PatchError: send str(err) to the model
    fs = LocalFileSystem(invocation.cwd(session_cwd))
    report = check_targets(patch, fs, policy)     # lstat/readlink only; DENY/ASK/ALLOW + reasons
    changes = preview(patch, fs)                  # reads, matches, diffs; writes nothing
    ... approval with changes.diff() and changes.change_kinds() when report says ASK ...
    result = commit(changes, fs, checked=report)  # all or nothing; refuses if anything moved
    result.success_text                           # what the model is told

``apply(patch, fs, atomic=False)`` is the standalone tool's behaviour (ops in order, no
rollback: Codex's fixture 015); ``atomic=True`` is preview + commit in one call.

Public API:

* parsing: :func:`parse` -> :class:`Patch` (of :class:`AddFile`, :class:`DeleteFile`,
  :class:`UpdateFile` with :class:`Chunk` s); :class:`PatchError` (``str()`` is Codex's text)
* filesystem view: :class:`FileSystem` (Protocol), :class:`LocalFileSystem`,
  :class:`MemoryFileSystem`, :class:`FileStat`, :class:`FileKind`
* applying: :func:`preview` -> :class:`ChangeSet`; :func:`commit` / :func:`apply` ->
  :class:`ApplyResult`; :class:`FileChange`, :class:`ChangeKind` (add / delete / update)
* safety: :func:`check_targets` (:class:`TargetPolicy` in, :class:`TargetReport` of
  :class:`TargetCheck` out, :class:`Verdict` allow / ask / deny), :data:`PROTECTED_NAMES`
* interception: :func:`detect_invocation` -> :class:`Invocation`, :func:`extract_heredoc`,
  :func:`intercept_warning`, :data:`IMPLICIT_INVOCATION`
* tool definitions: :func:`tool_spec` (``"freeform"`` | ``"function"``), :func:`freeform_tool`,
  :func:`function_tool`, :func:`patch_from_function_arguments`,
  :data:`APPLY_PATCH_LARK_GRAMMAR`, :data:`FREEFORM_DESCRIPTION`,
  :data:`APPLY_PATCH_INSTRUCTIONS`

Module map: ``model`` (types), ``parser``, ``seek`` (the four matching passes), ``text`` (line
endings, edits, update hunks), ``diff`` (git-style file diffs), ``paths`` (lexical join,
kernel-like resolution), ``fs_types`` + ``fs`` (the view and its two implementations), ``apply``
(overlay, preview, commit), ``safety``, ``invocation`` (tree-sitter-bash, imported on first
use), ``tools``. Pure apart from the
filesystem view; imports only ``codex_admin.errors`` and the ``codex_admin.pathrules`` leaf.
"""

from __future__ import annotations

from codex_admin.apply_patch.apply import apply, commit, preview
from codex_admin.apply_patch.fs import LocalFileSystem, MemoryFileSystem
from codex_admin.apply_patch.fs_types import FileKind, FileStat, FileSystem
from codex_admin.apply_patch.invocation import (
    IMPLICIT_INVOCATION,
    Invocation,
    detect_invocation,
    extract_heredoc,
    intercept_warning,
)
from codex_admin.apply_patch.model import (
    AddFile,
    ApplyResult,
    ChangeKind,
    ChangeSet,
    Chunk,
    DeleteFile,
    FileChange,
    Hunk,
    Patch,
    PatchError,
    UpdateFile,
)
from codex_admin.apply_patch.parser import parse
from codex_admin.apply_patch.safety import (
    PROTECTED_NAMES,
    TargetCheck,
    TargetPolicy,
    TargetReport,
    Verdict,
    check_targets,
)
from codex_admin.apply_patch.tools import (
    APPLY_PATCH_INSTRUCTIONS,
    APPLY_PATCH_LARK_GRAMMAR,
    FREEFORM_DESCRIPTION,
    freeform_tool,
    function_tool,
    patch_from_function_arguments,
    tool_spec,
)

__all__ = [
    "APPLY_PATCH_INSTRUCTIONS",
    "APPLY_PATCH_LARK_GRAMMAR",
    "FREEFORM_DESCRIPTION",
    "IMPLICIT_INVOCATION",
    "PROTECTED_NAMES",
    "AddFile",
    "ApplyResult",
    "ChangeKind",
    "ChangeSet",
    "Chunk",
    "DeleteFile",
    "FileChange",
    "FileKind",
    "FileStat",
    "FileSystem",
    "Hunk",
    "Invocation",
    "LocalFileSystem",
    "MemoryFileSystem",
    "Patch",
    "PatchError",
    "TargetCheck",
    "TargetPolicy",
    "TargetReport",
    "UpdateFile",
    "Verdict",
    "apply",
    "check_targets",
    "commit",
    "detect_invocation",
    "extract_heredoc",
    "freeform_tool",
    "function_tool",
    "intercept_warning",
    "parse",
    "patch_from_function_arguments",
    "preview",
    "tool_spec",
]
