"""Where the login lives: `cli_auth_credentials_store = file | keyring | auto | ephemeral`.

=============  ================================================================================
``file``       ``<auth home>/auth.json``, pretty JSON, mode 0600, written through a private temp
               file and an atomic rename; a symlink or non-regular file at that path is refused
               (an attacker who can plant a link must not redirect where the key is written or
               read from).
``keyring``    OS keyring entry, service ``Codex Auth``, account ``cli|<first 16 hex digits of
               SHA-256 of the canonical auth home>``, secret = the compact JSON document. A
               successful save deletes ``auth.json`` so the key is not left in plain text.
``auto``       keyring first; when the keyring is unavailable, the file (load, save and delete).
``ephemeral``  process memory only (per auth home); nothing touches disk or the keyring.
=============  ================================================================================

The auth home is ``CODEX_AUTH_HOME`` when set, else ``CODEX_HOME``. Deleting (logout) removes both
the file and the keyring entry whichever store is configured, as Codex does.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from codex_admin.auth.home import CredentialStoreMode, auth_home
from codex_admin.auth.keyring_backend import KeyringUnavailable, backend_name, open_backend
from codex_admin.auth.model import AuthDotJson
from codex_admin.errors import CodexError

__all__ = [
    "AUTH_FILE",
    "KEYRING_SERVICE",
    "AutoStore",
    "CredentialStore",
    "CredentialStoreMode",
    "EphemeralStore",
    "FileStore",
    "KeyringStore",
    "auth_home",
    "keyring_account",
    "open_store",
]

AUTH_FILE = "auth.json"
KEYRING_SERVICE = "Codex Auth"
_MAX_AUTH_BYTES = 1024 * 1024


class CredentialStore(Protocol):
    """Load, save and delete the one stored login of an auth home."""

    mode: CredentialStoreMode

    def load(self) -> AuthDotJson | None: ...

    def save(self, auth: AuthDotJson) -> None: ...

    def delete(self) -> bool: ...

    def describe(self) -> str: ...


def keyring_account(home: Path) -> str:
    """``cli|`` + the first 16 hex digits of SHA-256 of the canonical auth home path."""
    canonical = str(home.resolve())
    return "cli|" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


# ------------------------------------------------------------------------------------------ file


@dataclass
class FileStore:
    """Credentials in ``$CODEX_HOME/auth.json`` (mode 0600)."""

    home: Path
    mode: CredentialStoreMode = CredentialStoreMode.FILE

    @property
    def path(self) -> Path:
        return self.home / AUTH_FILE

    def describe(self) -> str:
        return str(self.path)

    def load(self) -> AuthDotJson | None:
        path = self.path
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise _symlink(path) from None
            raise CodexError(
                f"cannot read {path}: {err.strerror or err}",
                hint="check the file's owner and permissions (it should be 0600 and yours)",
            ) from None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise CodexError(
                    f"{path} is not a regular file",
                    hint="remove it and sign in again with `codex login`",
                )
            data = handle.read(_MAX_AUTH_BYTES + 1)
        if len(data) > _MAX_AUTH_BYTES:
            raise CodexError(f"{path} is larger than {_MAX_AUTH_BYTES} bytes; refusing to read it")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CodexError(
                f"stored credentials in {path} are not UTF-8",
                hint="run `codex logout` and sign in again",
            ) from None
        return AuthDotJson.loads(text, str(path))

    def save(self, auth: AuthDotJson) -> None:
        path = self.path
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.is_symlink():
            raise _symlink(path)
        if path.exists() and not path.is_file():
            raise CodexError(f"{path} exists and is not a regular file", hint="remove it first")
        fd, tmp = tempfile.mkstemp(prefix=".auth-", suffix=".json.tmp", dir=self.home)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(auth.dumps(pretty=True))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as err:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise CodexError(
                f"cannot write {path}: {err.strerror or err}",
                hint="check that the directory is writable by you",
            ) from None

    def delete(self) -> bool:
        try:
            os.unlink(self.path)  # unlink never follows a symlink: at worst the link goes
        except FileNotFoundError:
            return False
        except OSError as err:
            raise CodexError(f"cannot remove {self.path}: {err.strerror or err}") from None
        return True


def _symlink(path: Path) -> CodexError:
    return CodexError(
        f"{path} is a symbolic link; refusing to use it for credentials",
        hint="remove the link; credentials are only read from and written to a regular file",
    )


# --------------------------------------------------------------------------------------- keyring


@dataclass
class KeyringStore:
    """Credentials in the OS keyring."""

    home: Path
    environ: Mapping[str, str] | None = None
    mode: CredentialStoreMode = CredentialStoreMode.KEYRING

    @property
    def account(self) -> str:
        return keyring_account(self.home)

    def describe(self) -> str:
        backend = backend_name(self.environ)
        return f"keyring {backend} (service {KEYRING_SERVICE!r}, account {self.account!r})"

    # keyring is imported in each method: only credential operations pay for it.
    def load(self) -> AuthDotJson | None:
        from keyring.errors import KeyringError

        backend = open_backend(self.environ)
        try:
            secret = backend.get_password(KEYRING_SERVICE, self.account)
        except (KeyringError, OSError, RuntimeError) as err:
            raise _keyring_failed("read", err) from None
        if secret is None:
            return None
        return AuthDotJson.loads(secret, f"the keyring entry {self.account!r}")

    def save(self, auth: AuthDotJson) -> None:
        from keyring.errors import KeyringError

        backend = open_backend(self.environ)
        try:
            backend.set_password(KEYRING_SERVICE, self.account, auth.dumps(pretty=False))
        except (KeyringError, OSError, RuntimeError) as err:
            raise _keyring_failed("write", err) from None
        FileStore(self.home).delete()  # the keyring holds it now: no plain-text copy remains

    def delete(self) -> bool:
        from keyring.errors import KeyringError, PasswordDeleteError

        backend = open_backend(self.environ)
        try:
            backend.delete_password(KEYRING_SERVICE, self.account)
        except PasswordDeleteError:
            return False
        except (KeyringError, OSError, RuntimeError) as err:
            raise _keyring_failed("delete", err) from None
        return True


def _keyring_failed(action: str, err: Exception) -> CodexError:
    return KeyringUnavailable(
        f"failed to {action} credentials in the OS keyring: {type(err).__name__}: {err}",
        hint='unlock the keyring, or set cli_auth_credentials_store = "file"',
    )


# ------------------------------------------------------------------------------ auto, ephemeral


@dataclass
class AutoStore:
    """The keyring when it works, else the file."""

    home: Path
    environ: Mapping[str, str] | None = None
    mode: CredentialStoreMode = CredentialStoreMode.AUTO

    def _keyring(self) -> KeyringStore:
        return KeyringStore(self.home, self.environ)

    def describe(self) -> str:
        try:
            open_backend(self.environ)
        except KeyringUnavailable:
            return f"{FileStore(self.home).describe()} (keyring unavailable)"
        return self._keyring().describe()

    def load(self) -> AuthDotJson | None:
        try:
            found = self._keyring().load()
        except KeyringUnavailable:
            found = None
        return found if found is not None else FileStore(self.home).load()

    def save(self, auth: AuthDotJson) -> None:
        try:
            self._keyring().save(auth)
        except KeyringUnavailable:
            FileStore(self.home).save(auth)

    def delete(self) -> bool:
        removed = False
        with contextlib.suppress(KeyringUnavailable):
            removed = self._keyring().delete()
        return FileStore(self.home).delete() or removed


_MEMORY: dict[Path, AuthDotJson] = {}


@dataclass
class EphemeralStore:
    """Credentials in this process's memory only."""

    home: Path
    mode: CredentialStoreMode = CredentialStoreMode.EPHEMERAL

    def describe(self) -> str:
        return "process memory (ephemeral)"

    def load(self) -> AuthDotJson | None:
        return _MEMORY.get(self.home)

    def save(self, auth: AuthDotJson) -> None:
        _MEMORY[self.home] = auth

    def delete(self) -> bool:
        return _MEMORY.pop(self.home, None) is not None


def open_store(
    mode: CredentialStoreMode | str, home: Path, environ: Mapping[str, str] | None = None
) -> CredentialStore:
    """The store for ``mode`` (a :class:`CredentialStoreMode` or its spelling) at ``home``."""
    try:
        chosen = CredentialStoreMode(mode)
    except ValueError:
        raise CodexError(
            f"invalid cli_auth_credentials_store {mode!r}",
            hint="use one of: file, keyring, auto, ephemeral",
        ) from None
    if chosen is CredentialStoreMode.FILE:
        return FileStore(home)
    if chosen is CredentialStoreMode.KEYRING:
        return KeyringStore(home, environ)
    if chosen is CredentialStoreMode.AUTO:
        return AutoStore(home, environ)
    return EphemeralStore(home)
