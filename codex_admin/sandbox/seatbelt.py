"""macOS backend: the Seatbelt (SBPL) profile for a :class:`SandboxPlan`, as text.

``sandbox-exec -p PROFILE -- CMD`` enforces it (macOS only; elsewhere the text is printed so it
can be reviewed and tested). The profile denies by default, then allows: reading everything
except ``deny_read`` paths/globs; writing only inside the writable roots minus the protected
subpaths (``.git``, ``.codex``, ``.agents``, gitdir targets) and ``/dev/null``; and, depending on
the network mode, nothing, only ``localhost:<port>`` of each proxy port, or everything. Exclusions
are expressed with ``require-not`` inside the single ``allow`` rule, so the result never depends on
rule order. Strings are escaped, so a path with ``"`` or ``\\`` cannot inject SBPL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from codex_admin.sandbox.plan import SandboxPlan
from codex_admin.sandbox.policy import NetworkMode, SandboxMode

__all__ = ["glob_to_sbpl_regex", "sandbox_exec_argv", "seatbelt_profile"]

_BASE = """\
(version 1)
(deny default)
(allow process-exec)
(allow process-fork)
(allow signal (target same-sandbox))
(allow process-info* (target same-sandbox))
(allow sysctl-read)
(allow mach-lookup
  (global-name "com.apple.system.opendirectoryd.libinfo")
  (global-name "com.apple.system.notification_center")
  (global-name "com.apple.logd"))
(allow ipc-posix-sem)
(allow pseudo-tty)
(allow file-ioctl (literal "/dev/null") (literal "/dev/tty"))
(allow file-write-data (literal "/dev/null") (literal "/dev/tty"))
"""


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def glob_to_sbpl_regex(pattern: str) -> str:
    """Translate a ``deny_read`` glob (``*``, ``**``, ``?``, ``[...]``) to an anchored regex."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("(/.*)?$")
    return "".join(out)


def _regex(pattern: str) -> str:
    # Inside an SBPL regex literal only the quote needs escaping; backslashes are regex escapes.
    return '#"' + pattern.replace('"', '\\"') + '"'


def _path_filters(paths: Sequence[Path]) -> list[str]:
    return [f"(subpath {_quote(str(p))})" for p in paths]


def seatbelt_profile(
    plan: SandboxPlan,
    *,
    deny_read_globs: Sequence[str] = (),
    proxy_ports: Sequence[int] = (),
) -> str:
    """SBPL text for ``plan``. ``deny_read_globs`` are the raw requirement entries (globs are
    kept as regexes so files created later are covered too); ``proxy_ports`` are the local ports
    of the session proxy (HTTP, SOCKS) for the ``proxy`` network mode."""
    lines = [_BASE.rstrip("\n")]
    denied = _path_filters([*plan.masked_dirs, *plan.masked_files])
    for entry in deny_read_globs:
        if set("*?[") & set(entry):
            denied.append(f"(regex {_regex(glob_to_sbpl_regex(entry))})")
        else:
            denied.append(f"(subpath {_quote(entry)})")
    if denied:
        nots = "\n    ".join(f"(require-not {d})" for d in dict.fromkeys(denied))
        lines.append(f'(allow file-read*\n  (require-all (subpath "/")\n    {nots}))')
    else:
        lines.append("(allow file-read*)")
    if plan.mode is SandboxMode.DANGER_FULL_ACCESS:
        lines.append('(allow file-write* (subpath "/"))')
    elif plan.writable:
        protected = _path_filters([*plan.protected, *plan.blocked])
        for root in plan.writable:
            inside = [
                p
                for p, f in zip([*plan.protected, *plan.blocked], protected, strict=True)
                if root == p or root in p.parents
            ]
            if inside:
                nots = "\n    ".join(f"(require-not {f})" for f in _path_filters(inside))
                lines.append(
                    f"(allow file-write*\n  (require-all (subpath {_quote(str(root))})\n"
                    f"    {nots}))"
                )
            else:
                lines.append(f"(allow file-write* (subpath {_quote(str(root))}))")
    if plan.network is NetworkMode.FULL:
        lines.append("(allow network*)")
    elif plan.network is NetworkMode.PROXY:
        for port in proxy_ports:
            lines.append(f'(allow network-outbound (remote tcp "localhost:{int(port)}"))')
    return "\n".join(lines) + "\n"


def sandbox_exec_argv(profile: str, command: Sequence[str]) -> list[str]:
    """The macOS launcher argv (absolute path, so a PATH entry cannot replace it)."""
    return ["/usr/bin/sandbox-exec", "-p", profile, "--", *command]
