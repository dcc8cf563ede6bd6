"""AGENTS.md discovery: the instructions Codex sends for a working directory (spec §6).

:func:`load_instructions` takes plain parameters (cwd, ``codex_home``, ``project_doc_max_bytes``,
``project_doc_fallback_filenames``, ``deny_read``, readable roots) so the agent builds it from its
session and ``codex instructions show`` from the effective configuration; it returns
:class:`Instructions` (the user-role :attr:`~Instructions.message`, the joined
:attr:`~Instructions.text`, and every :class:`DocSource` with bytes used, truncation and skips).

Module map: ``discover`` (everything). Imports only the ``codex_admin.pathrules`` leaf.
"""

from __future__ import annotations

from codex_admin.instructions.discover import (
    DEFAULT_PROJECT_DOC_MAX_BYTES,
    GLOBAL_DOC_MAX_BYTES,
    PROJECT_DOC_SEPARATOR,
    DocSource,
    Instructions,
    candidate_filenames,
    find_git_root,
    load_instructions,
)

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
