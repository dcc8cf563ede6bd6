"""The OS keyring backend, chosen deliberately rather than auto-detected.

``keyring.get_keyring()`` imports every installed backend and asks each for its priority. Some of
those probes are slow or have side effects: the KWallet backend's D-Bus binding autolaunches a
``dbus-daemon`` (a process) when no session bus is set, and third-party backends may prompt. A
credential lookup sits on the start-up path of every `codex` run, so we pick the one backend
Codex itself uses on each platform:

* Linux / BSD -- the freedesktop Secret Service over the D-Bus session bus (gnome-keyring,
  KeePassXC, KWallet >= 5.97), through ``secretstorage`` / ``jeepney``: pure Python, no child
  process, and the entries are interchangeable with the real Codex's (same service and account,
  the attributes searched are ``service`` and ``username``);
* macOS -- the login Keychain; Windows -- the Credential Manager.

An admin who needs another store sets ``PYTHON_KEYRING_BACKEND`` to a backend's dotted class name
(keyring's own knob); it is loaded by name, again without probing the others.

Only this module imports ``keyring``, and only when credentials are touched.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from codex_admin.errors import CodexError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

__all__ = ["KeyringUnavailable", "backend_name", "open_backend"]

_PLATFORM_BACKENDS = {
    "darwin": "keyring.backends.macOS.Keyring",
    "win32": "keyring.backends.Windows.WinVaultKeyring",
}
_DEFAULT_BACKEND = "keyring.backends.SecretService.Keyring"


class KeyringUnavailable(CodexError):
    """No usable OS keyring (no D-Bus session, no Secret Service, locked, unknown backend)."""


def backend_name(environ: Mapping[str, str] | None = None) -> str:
    """The dotted class name of the backend :func:`open_backend` would load."""
    env = os.environ if environ is None else environ
    chosen = env.get("PYTHON_KEYRING_BACKEND", "").strip()
    return chosen or _PLATFORM_BACKENDS.get(sys.platform, _DEFAULT_BACKEND)


def open_backend(environ: Mapping[str, str] | None = None) -> KeyringBackend:
    """Load the chosen backend and check that it is usable now (raises KeyringUnavailable)."""
    from keyring.core import load_keyring  # imported here: only credential operations pay for it

    name = backend_name(environ)
    try:
        return load_keyring(name)
    except (RuntimeError, ImportError, AttributeError, ValueError, OSError) as err:
        raise KeyringUnavailable(
            f"the OS keyring is not available ({name}): {err}",
            hint=_hint(),
        ) from None


def _hint() -> str:
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return (
            "start and unlock a Secret Service provider (gnome-keyring, KeePassXC, KWallet) in"
            ' this D-Bus session, or set cli_auth_credentials_store = "file" (or "auto")'
        )
    return 'unlock the OS keychain, or set cli_auth_credentials_store = "file" (or "auto")'
