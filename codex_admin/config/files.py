"""The one safe way to read a configuration input: regular files only, bounded, located errors.

Every file the configuration engine reads (config.toml, managed_config.toml, requirements.toml,
MDM plists, project layers, `--config-file`) goes through :func:`read_file_bytes`, and other
packages that read admin or project files use it too. It refuses, with a located
:class:`~codex_admin.errors.CodexError` and never a hang:

* anything that is not a regular file after ``open``: a FIFO (opened with ``O_NONBLOCK``, so a
  missing writer cannot block us), a character or block device (``/dev/zero`` would never end),
  a socket, a directory;
* a file larger than ``max_bytes`` (checked with ``fstat`` before reading and again while
  reading, so a file that grows under us is cut off too);
* with ``within``: a path whose real location (symlinks resolved) leaves that directory -- the
  guard for project folders, where a planted ``.codex/config.toml -> ~/.ssh/id_ed25519`` must
  not be read, let alone echoed in an error.

A missing file (or a missing parent directory) is not an error: it returns None, because every
layer is optional. Decoding is strict UTF-8 with the bad byte's line and column.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from codex_admin.errors import CodexError, Location

__all__ = [
    "MAX_FILE_BYTES",
    "decode_utf8",
    "is_within",
    "read_file_bytes",
    "read_text_file",
    "write_file_atomic",
]

# Configuration, requirements and MDM payloads are small; 8 MiB is far above any real file and
# far below what could hurt. Callers with bigger legitimate inputs pass their own limit.
MAX_FILE_BYTES = 8 * 1024 * 1024

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

StrPath = str | Path


def read_text_file(
    path: StrPath,
    *,
    what: str = "config file",
    max_bytes: int = MAX_FILE_BYTES,
    within: Path | None = None,
    nofollow: bool = False,
) -> str | None:
    """The file's UTF-8 text, or None if it does not exist (see the module docstring)."""
    data = read_file_bytes(path, what=what, max_bytes=max_bytes, within=within, nofollow=nofollow)
    return None if data is None else decode_utf8(data, str(path))


def read_file_bytes(
    path: StrPath,
    *,
    what: str = "config file",
    max_bytes: int = MAX_FILE_BYTES,
    within: Path | None = None,
    nofollow: bool = False,
) -> bytes | None:
    """The file's bytes, or None if it does not exist. Anything else wrong is a CodexError.

    ``nofollow`` refuses a file that is itself a symlink (for a path already resolved).
    """
    target = os.fspath(path)  # not a Path: parsing a deep path costs more than reading it
    flags = _OPEN_FLAGS | (_NOFOLLOW if nofollow else 0)
    if within is not None:
        real = os.path.realpath(target)
        if not is_within(Path(real), within):
            raise CodexError(
                f"Refusing to read {what} {path}: it is a symlink to a file outside {within}",
                location=Location(path),
                hint="project configuration must be real files inside the project; replace the"
                " link with a copy of what you want loaded",
            )
        # Open the resolved file itself, refusing a link swapped in since we resolved it.
        target, flags = real, flags | _NOFOLLOW
    try:
        fd = os.open(target, flags)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except PermissionError:
        raise CodexError(
            f"Failed to read {what} {path}: permission denied",
            location=Location(path),
            hint="make the file readable by this user (chmod 0644 for admin files)",
        ) from None
    except IsADirectoryError:  # Windows; on POSIX a directory opens and fstat tells
        raise _not_regular(path, what, "a directory") from None
    except OSError as err:
        if err.errno == errno.ELOOP and flags & _NOFOLLOW:
            raise _not_regular(path, what, "a symbolic link (not followed here)") from None
        raise CodexError(
            f"Failed to read {what} {path}: {err.strerror or err}", location=Location(path)
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, what, _kind(info.st_mode))
        if info.st_size > max_bytes:
            raise _too_big(path, what, max_bytes)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise _too_big(path, what, max_bytes)
    except OSError as err:
        raise CodexError(
            f"Failed to read {what} {path}: {err.strerror or err}", location=Location(path)
        ) from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def decode_utf8(data: bytes, where: str) -> str:
    """Decode UTF-8 strictly; a bad byte is reported with its line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line = before.count(b"\n") + 1
        column = err.start - (before.rfind(b"\n") + 1) + 1
        raise CodexError(
            f"invalid UTF-8 (byte 0x{data[err.start]:02x})",
            location=Location(where, line, column),
            hint="save the file as UTF-8",
        ) from None


def is_within(path: Path, directory: Path) -> bool:
    """True when canonical ``path`` is ``directory`` (canonicalised here) or lies under it."""
    base = Path(os.path.realpath(directory))
    return path == base or base in path.parents


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n: int) -> str:
    return (
        f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 and n % (1024 * 1024) == 0 else f"{n} bytes"
    )


def _not_regular(path: StrPath, what: str, kind: str) -> CodexError:
    return CodexError(
        f"Failed to read {what} {path}: it is {kind}, expected a regular file",
        location=Location(path),
        hint="replace it with a regular file (or remove it)",
    )


def _too_big(path: StrPath, what: str, max_bytes: int) -> CodexError:
    return CodexError(
        f"Failed to read {what} {path}: it is larger than the limit of {_size(max_bytes)}"
        " for configuration files",
        location=Location(path),
        hint="configuration files are small; check that the path names the right file",
    )


def write_file_atomic(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` atomically (temp file in the same directory + rename).

    A symlinked file (a dotfiles checkout of ``~/.codex/config.toml``) is written through:
    its target is replaced, the link stays. An existing file keeps its permission bits; a new
    one gets ``mode``. Raises CodexError when the directory cannot be written.
    """
    import tempfile  # only writers pay for it (tempfile pulls in random and shutil)

    target = Path(os.path.realpath(path))
    try:
        keep = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        keep = mode
    except OSError as err:
        raise _write_error(path, err) from None
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as err:
        raise _write_error(path, err) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, keep)
        os.replace(tmp, target)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _write_error(path, err) from None


def _write_error(path: Path, err: OSError) -> CodexError:
    return CodexError(
        f"Failed to write {path}: {err.strerror or err}",
        location=Location(path),
        hint="check that the directory exists and is writable by this user",
    )
