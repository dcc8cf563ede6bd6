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

Module map: ``errors`` (:class:`PatchError`, alone: cheap to import), ``model`` (types),
``parser``, ``seek`` (the four matching passes), ``text`` (line endings, edits, update hunks),
``diff`` (git-style file diffs), ``paths`` (lexical join, kernel-like resolution),
``fs_types`` + ``fs`` (the view and its two implementations), ``apply`` (overlay, preview,
commit), ``safety``, ``invocation`` (tree-sitter-bash, imported on first use), ``tools``. Pure
apart from the filesystem view; imports only ``codex_admin.errors`` and the
``codex_admin.pathrules`` leaf.
"""

from typing import TYPE_CHECKING

from codex_admin.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from codex_admin.apply_patch.applier import apply, commit, preview
    from codex_admin.apply_patch.errors import PatchError
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

# Resolved on first use (PEP 562): the agent builds its tool spec from ``tools`` without paying
# for the applier, and tree-sitter is loaded only when a shell call is inspected.
_EXPORTS = {
    "apply": "codex_admin.apply_patch.applier",
    "commit": "codex_admin.apply_patch.applier",
    "preview": "codex_admin.apply_patch.applier",
    "LocalFileSystem": "codex_admin.apply_patch.fs",
    "MemoryFileSystem": "codex_admin.apply_patch.fs",
    "FileKind": "codex_admin.apply_patch.fs_types",
    "FileStat": "codex_admin.apply_patch.fs_types",
    "FileSystem": "codex_admin.apply_patch.fs_types",
    "IMPLICIT_INVOCATION": "codex_admin.apply_patch.invocation",
    "Invocation": "codex_admin.apply_patch.invocation",
    "detect_invocation": "codex_admin.apply_patch.invocation",
    "extract_heredoc": "codex_admin.apply_patch.invocation",
    "intercept_warning": "codex_admin.apply_patch.invocation",
    "AddFile": "codex_admin.apply_patch.model",
    "ApplyResult": "codex_admin.apply_patch.model",
    "ChangeKind": "codex_admin.apply_patch.model",
    "ChangeSet": "codex_admin.apply_patch.model",
    "Chunk": "codex_admin.apply_patch.model",
    "DeleteFile": "codex_admin.apply_patch.model",
    "FileChange": "codex_admin.apply_patch.model",
    "Hunk": "codex_admin.apply_patch.model",
    "Patch": "codex_admin.apply_patch.model",
    "PatchError": "codex_admin.apply_patch.errors",
    "UpdateFile": "codex_admin.apply_patch.model",
    "parse": "codex_admin.apply_patch.parser",
    "PROTECTED_NAMES": "codex_admin.apply_patch.safety",
    "TargetCheck": "codex_admin.apply_patch.safety",
    "TargetPolicy": "codex_admin.apply_patch.safety",
    "TargetReport": "codex_admin.apply_patch.safety",
    "Verdict": "codex_admin.apply_patch.safety",
    "check_targets": "codex_admin.apply_patch.safety",
    "APPLY_PATCH_INSTRUCTIONS": "codex_admin.apply_patch.tools",
    "APPLY_PATCH_LARK_GRAMMAR": "codex_admin.apply_patch.tools",
    "FREEFORM_DESCRIPTION": "codex_admin.apply_patch.tools",
    "freeform_tool": "codex_admin.apply_patch.tools",
    "function_tool": "codex_admin.apply_patch.tools",
    "patch_from_function_arguments": "codex_admin.apply_patch.tools",
    "tool_spec": "codex_admin.apply_patch.tools",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


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
