"""Persist "always allow" approvals as rule lines (spec §5).

Appends one ``prefix_rule(...)`` or ``network_rule(...)`` line to a rules file (by default
``$CODEX_HOME/rules/default.rules``) under an exclusive ``flock``, skipping a line that is already
present and adding a missing final newline first, so concurrent sessions neither lose nor
duplicate approvals. Tokens are written as JSON strings, which are valid Starlark strings; a
token containing a newline or quote therefore cannot break out of the call.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Sequence
from pathlib import Path

from codex_admin.errors import CodexError, Location

__all__ = [
    "append_allow_prefix_rule",
    "append_network_rule",
    "network_rule_line",
    "prefix_rule_line",
]


def prefix_rule_line(prefix: Sequence[str]) -> str:
    if not prefix:
        raise CodexError("prefix rule requires at least one token")
    tokens = ", ".join(json.dumps(token, ensure_ascii=False) for token in prefix)
    return f'prefix_rule(pattern=[{tokens}], decision="allow")'


def network_rule_line(host: str, protocol: str, decision: str, justification: str | None) -> str:
    host = host.strip()
    if not host:
        raise CodexError("network rule host cannot be empty")
    if protocol not in ("http", "https"):
        raise CodexError("network rule protocol must be http or https")
    if decision not in ("allow", "deny", "ask"):
        raise CodexError("network rule decision must be allow, deny, or ask")
    line = (
        f"network_rule(host={json.dumps(host, ensure_ascii=False)}, "
        f"protocol={json.dumps(protocol)}, decision={json.dumps(decision)}"
    )
    if justification is not None:
        line += f", justification={json.dumps(justification, ensure_ascii=False)}"
    return line + ")"


def _append_line(path: Path, line: str) -> bool:
    """Append ``line`` unless an identical line exists; True when something was written."""
    try:
        path.parent.mkdir(exist_ok=True)
    except FileNotFoundError:
        raise CodexError(
            f"failed to create {path.parent}: its parent directory does not exist",
            location=Location(path.parent),
        ) from None
    except OSError as err:
        raise CodexError(f"failed to create {path.parent}: {err.strerror or err}") from None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise CodexError(
            f"failed to open {path}: {err.strerror or err}", location=Location(path)
        ) from None
    with os.fdopen(fd, "r+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            handle.seek(0)
            contents = handle.read()
            encoded = line.encode("utf-8")
            if encoded in contents.split(b"\n"):
                return False
            prefix = b"\n" if contents and not contents.endswith(b"\n") else b""
            handle.write(prefix + encoded + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
            return True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def append_allow_prefix_rule(path: str | Path, prefix: Sequence[str]) -> bool:
    """Append ``prefix_rule(pattern=[...], decision="allow")``; False if already present."""
    return _append_line(Path(path), prefix_rule_line(prefix))


def append_network_rule(
    path: str | Path,
    host: str,
    protocol: str,
    decision: str,
    justification: str | None = None,
) -> bool:
    """Append a ``network_rule(...)`` line with Codex's validation; False if already present."""
    return _append_line(Path(path), network_rule_line(host, protocol, decision, justification))
