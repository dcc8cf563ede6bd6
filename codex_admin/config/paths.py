"""Where configuration lives: `CODEX_HOME`, the system dir, and the MDM stand-in.

Knobs (documented in README): `CODEX_HOME` (user dir, default `~/.codex`; when set it must exist and
be a directory, as in Codex), `CODEX_SYSTEM_DIR` (default `/etc/codex`, Windows
`%ProgramData%\\OpenAI\\Codex`), `CODEX_MDM_PLIST` (a plist standing in for the managed preference
domain on any OS).

The two managed-location knobs are for machines an admin does not manage (tests, CI, previewing a
policy): once the real system dir holds managed files, or (macOS) a managed preference plist is
installed, both are ignored with a warning. Otherwise a developer could escape every requirement
with `CODEX_SYSTEM_DIR=/nowhere` or a plist of their own. `codex managed inspect DIR` previews a
policy on a managed machine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from codex_admin.errors import CodexError

__all__ = ["codex_home", "ignored_location_overrides", "mdm_plist_candidates", "system_dir"]

# What an admin places in the system dir; any of them there makes the location authoritative.
_MANAGED_ENTRIES = ("requirements.toml", "managed_config.toml", "config.toml", "rules")


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


def default_system_dir() -> Path:
    """Where the admin's system dir really is on this OS."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        base = os.environ.get("PROGRAMDATA") or r"C:\ProgramData"
        return Path(base) / "OpenAI" / "Codex"
    return Path("/etc/codex")


def _real_mdm_plists() -> list[Path]:
    if sys.platform != "darwin":
        return []
    # Deferred: getpass (and termios behind it) only where the answer is needed, on macOS; every
    # other start-up, `codex exec` included, skips it.
    import getpass  # pragma: no cover - macOS only

    base = Path("/Library/Managed Preferences")  # pragma: no cover - macOS only
    return [base / getpass.getuser() / "com.openai.codex.plist", base / "com.openai.codex.plist"]


def _admin_managed() -> bool:
    """Has an admin placed managed configuration on this machine (real locations only)?"""
    real = default_system_dir()
    try:
        return any((real / name).exists() for name in _MANAGED_ENTRIES) or any(
            plist.exists() for plist in _real_mdm_plists()
        )
    except OSError:  # an unreadable system dir is an admin's: keep it authoritative
        return True


def system_dir() -> Path:
    """The admin-owned dir holding config.toml, managed_config.toml, requirements.toml, rules/.
    `CODEX_SYSTEM_DIR` moves it only on a machine without admin-placed configuration."""
    raw = os.environ.get("CODEX_SYSTEM_DIR", "")
    if raw and not _admin_managed():
        return Path(raw).expanduser().absolute()
    return default_system_dir()


def mdm_plist_candidates() -> list[Path]:
    """Plists that stand for the `com.openai.codex` managed preference domain, first wins.

    `CODEX_MDM_PLIST` replaces the lookup entirely (tests, Linux fleets, admins previewing a
    profile). On macOS the per-user managed preferences come before the machine-wide ones.
    """
    override = os.environ.get("CODEX_MDM_PLIST")
    if override is not None and not _admin_managed():
        return [Path(override).expanduser()] if override else []
    return _real_mdm_plists()


def ignored_location_overrides() -> list[str]:
    """A warning for each managed-location knob that is set but ignored (see the module doc)."""
    if not _admin_managed():
        return []
    return [
        f"{name} is ignored: this machine's managed configuration ({default_system_dir()} or the "
        "managed preferences) always applies; preview another policy with `codex managed inspect`"
        for name in ("CODEX_SYSTEM_DIR", "CODEX_MDM_PLIST")
        if os.environ.get(name) is not None
    ]
