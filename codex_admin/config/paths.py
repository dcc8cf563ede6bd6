"""Where configuration lives: `CODEX_HOME`, the system dir, and the MDM stand-in.

Knobs (documented in README): `CODEX_HOME` (user dir, default `~/.codex`; when set it must exist and
be a directory, as in Codex), `CODEX_SYSTEM_DIR` (default `/etc/codex`, Windows
`%ProgramData%\\OpenAI\\Codex`), `CODEX_MDM_PLIST` (a plist standing in for the managed preference
domain on any OS).
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from codex_admin.errors import CodexError

__all__ = ["codex_home", "mdm_plist_candidates", "system_dir"]


def codex_home() -> Path:
    """The user config dir. A set-but-bad `CODEX_HOME` is an error, never silently ignored."""
    raw = os.environ.get("CODEX_HOME", "")
    if not raw:
        return Path.home() / ".codex"
    path = Path(raw).expanduser()
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except OSError as err:
        raise CodexError(
            f'CODEX_HOME points to "{raw}", but it cannot be accessed: {err.strerror or err}',
            hint="check the permissions of the directory and its parents",
        ) from None
    if not exists:
        raise CodexError(
            f'CODEX_HOME points to "{raw}", but that path does not exist',
            hint="create the directory or unset CODEX_HOME to use ~/.codex",
        )
    if not is_dir:
        raise CodexError(
            f'CODEX_HOME points to "{raw}", but that path is not a directory',
            hint="point CODEX_HOME at a directory",
        )
    return path.resolve()


def system_dir() -> Path:
    """The admin-owned dir holding config.toml, managed_config.toml, requirements.toml, rules/."""
    raw = os.environ.get("CODEX_SYSTEM_DIR", "")
    if raw:
        return Path(raw).expanduser().absolute()
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        base = os.environ.get("PROGRAMDATA") or r"C:\ProgramData"
        return Path(base) / "OpenAI" / "Codex"
    return Path("/etc/codex")


def mdm_plist_candidates() -> list[Path]:
    """Plists that stand for the `com.openai.codex` managed preference domain, first wins.

    `CODEX_MDM_PLIST` replaces the lookup entirely (tests, Linux fleets, admins previewing a
    profile). On macOS the per-user managed preferences come before the machine-wide ones.
    """
    override = os.environ.get("CODEX_MDM_PLIST")
    if override is not None:
        return [Path(override).expanduser()] if override else []
    if sys.platform != "darwin":
        return []
    base = Path("/Library/Managed Preferences")  # pragma: no cover - macOS only
    return [base / getpass.getuser() / "com.openai.codex.plist", base / "com.openai.codex.plist"]
