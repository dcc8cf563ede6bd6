"""Process-wide CLI state set by the dispatcher before a group runs (kept import-free)."""

from __future__ import annotations

# `-c KEY=VALUE` given before the command name. They apply to every command and come before
# the command's own `-c` values, so on conflict the command-level value wins (as in Codex).
ROOT_OVERRIDES: list[str] = []
