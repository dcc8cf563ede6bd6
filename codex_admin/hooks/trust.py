"""Hook trust: a hash of each hook's normalised definition, stored only in the user's config.

State lives where Codex keeps it, in `$CODEX_HOME/config.toml`::

    [hooks.state."/repo/.codex/hooks.json:pre_tool_use:0:0"]
    trusted_hash = "sha256:..."
    enabled = true          # optional; false disables a non-managed hook

The key is ``<source path>:<event label>:<group index>:<handler index>``. Only the user layer is
read: a project file (or a `-c` flag) that carries `[hooks.state]` cannot trust hooks. The hash
(:func:`hook_hash`) covers the event, matcher, command, timeout, async flag, status message and
source path, plus the content of every script the command names directly inside the project,
the hook's config folder or `CODEX_HOME`. So a repository that edits `.codex/hooks.json` -- or the
`.codex/hooks/check.sh` a trusted hook runs -- gets the hook reported as modified, and it does
not run until the user trusts it again. Managed hooks need no state: they are always trusted.

The hash format differs from Codex's (ours also covers the source path and named scripts), so a
hook trusted by Codex shows as modified here until trusted once with `codex hooks trust`.

Writes (:func:`trust_hooks`) edit the file with tomlkit (comments and layout survive), under an
exclusive lock, through a temporary file and an atomic rename; a new file is created 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_admin.errors import CodexError, Location
from codex_admin.hooks.files import read_regular_file
from codex_admin.hooks.model import HookDefinition, TrustStatus

if TYPE_CHECKING:
    import tomlkit
    from tomlkit.items import InlineTable, Table

__all__ = [
    "HookState",
    "hook_hash",
    "hook_states",
    "referenced_files",
    "trust_hooks",
    "trust_status",
]

_HASH_VERSION = 1
_MAX_SCRIPT_BYTES = 4 * 1024 * 1024
_MAX_TOKENS = 64
_PROJECT_VARS = ("CLAUDE_PROJECT_DIR", "CODEX_PROJECT_DIR")


@dataclass(frozen=True)
class HookState:
    """A hook's ``[hooks.state]`` entry: the hash trusted, and whether it is enabled."""

    trusted_hash: str | None = None
    enabled: bool | None = None


def hook_states(user_table: Mapping[str, Any]) -> dict[str, HookState]:
    """`[hooks.state]` of the user config; malformed entries are ignored (they trust nothing)."""
    hooks = user_table.get("hooks")
    state = hooks.get("state") if isinstance(hooks, Mapping) else None
    if not isinstance(state, Mapping):
        return {}
    out: dict[str, HookState] = {}
    for key, entry in state.items():
        if not isinstance(key, str) or not key.strip() or not isinstance(entry, Mapping):
            continue
        trusted = entry.get("trusted_hash")
        enabled = entry.get("enabled")
        out[key.strip()] = HookState(
            trusted if isinstance(trusted, str) else None,
            enabled if isinstance(enabled, bool) else None,
        )
    return out


def trust_status(managed: bool, current: str, state: HookState | None) -> TrustStatus:
    if managed:
        return TrustStatus.MANAGED
    if state is None or state.trusted_hash is None:
        return TrustStatus.UNTRUSTED
    return TrustStatus.TRUSTED if state.trusted_hash == current else TrustStatus.MODIFIED


def hook_hash(
    *,
    event: str,
    matcher: str | None,
    command: str,
    timeout: float,
    is_async: bool,
    status_message: str | None,
    source_path: str,
    files: Mapping[str, str],
) -> str:
    """``sha256:<hex>`` of the canonical JSON of the normalised definition."""
    identity = {
        "version": _HASH_VERSION,
        "event": event,
        "matcher": matcher,
        "type": "command",
        "command": command,
        "timeout": int(timeout) if float(timeout).is_integer() else timeout,
        "async": is_async,
        "statusMessage": status_message,
        "source": source_path,
        "files": dict(sorted(files.items())),
    }
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def referenced_files(
    command: str, *, cwd: Path, project_dir: Path, roots: Iterable[Path]
) -> dict[str, str]:
    """``{path: sha256}`` of regular files the command names directly under one of ``roots``.

    Words are split like a shell would (operators apart); ``$CLAUDE_PROJECT_DIR`` /
    ``$CODEX_PROJECT_DIR`` (braced or not) and ``~`` are expanded; relative words resolve against
    ``cwd``, where the hook runs. This is a tripwire for the common case (`.codex/hooks/x.sh`,
    `python3 $CLAUDE_PROJECT_DIR/.claude/hooks/check.py`), not a sandbox: a command that reads
    its code indirectly is covered only by its own text.
    """
    bounds = [Path(os.path.realpath(root)) for root in roots]
    out: dict[str, str] = {}
    for word in _words(command)[:_MAX_TOKENS]:
        for var in _PROJECT_VARS:
            word = word.replace("${" + var + "}", str(project_dir)).replace(
                "$" + var, str(project_dir)
            )
        if word.startswith("~"):
            word = os.path.expanduser(word)
        if not word or "$" in word or "\0" in word:
            continue
        path = Path(word) if os.path.isabs(word) else cwd / word
        try:
            real = Path(os.path.realpath(path))
        except (OSError, ValueError):
            continue
        if not any(real.is_relative_to(bound) for bound in bounds):
            continue
        data = read_regular_file(real, _MAX_SCRIPT_BYTES)
        if data is not None:
            out[str(real)] = hashlib.sha256(data).hexdigest()
    return out


def _words(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:  # unbalanced quotes: the shell will fail too; hash the text only
        return []


def trust_hooks(codex_home: Path, hooks: Iterable[HookDefinition]) -> list[HookDefinition]:
    """Record the current hash of each non-managed hook in `$CODEX_HOME/config.toml`.

    Returns the hooks whose state changed (managed and already-trusted hooks are skipped).
    """
    todo = [h for h in hooks if not h.managed and h.trust is not TrustStatus.TRUSTED]
    if not todo:
        return []
    # tomlkit only for the write: discovery (every session, `codex doctor`) reads state only.
    import tomlkit
    import tomlkit.exceptions
    from tomlkit.items import InlineTable, Table

    path = codex_home / "config.toml"
    with _locked(codex_home):
        target = Path(os.path.realpath(path)) if path.is_symlink() else path
        text = target.read_text(encoding="utf-8") if target.exists() else ""
        try:
            doc = tomlkit.parse(text)
        except tomlkit.exceptions.ParseError as err:
            raise CodexError(
                f"cannot record hook trust: {err}",
                location=Location(target, err.line, err.col),
                hint="fix the TOML syntax of your user config first",
            ) from None
        state = _state_table(doc, target)
        for hook in todo:
            entry = state.get(hook.key)
            if entry is None:
                entry = (
                    tomlkit.inline_table() if isinstance(state, InlineTable) else tomlkit.table()
                )
                state[hook.key] = entry
            elif not isinstance(entry, Table | InlineTable):
                raise CodexError(
                    f'`hooks.state."{hook.key}"` in {target} is not a table',
                    location=Location(target),
                    hint="remove that entry and run `codex hooks trust` again",
                )
            entry["trusted_hash"] = hook.hash
        _atomic_write(target, tomlkit.dumps(doc))
    return todo


def _state_table(doc: tomlkit.TOMLDocument, where: Path) -> Table | InlineTable:
    import tomlkit  # start-up: see trust_hooks
    from tomlkit.items import InlineTable, Table

    hooks = doc.get("hooks")
    if hooks is None:
        hooks = tomlkit.table(is_super_table=True)
        doc["hooks"] = hooks
    if not isinstance(hooks, Table | InlineTable):
        raise CodexError(
            f"`hooks` in {where} is not a table", location=Location(where), hint="make it a table"
        )
    state = hooks.get("state")
    if state is None:
        state = (
            tomlkit.inline_table()
            if isinstance(hooks, InlineTable)
            else tomlkit.table(is_super_table=True)
        )
        hooks["state"] = state
    if not isinstance(state, Table | InlineTable):
        raise CodexError(
            f"`hooks.state` in {where} is not a table",
            location=Location(where),
            hint="make it a table",
        )
    return state


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise writers of the user config (concurrent `codex hooks trust`, sessions)."""
    if not directory.is_dir():
        raise CodexError(
            f"CODEX_HOME {directory} does not exist", hint="create it, or set CODEX_HOME"
        )
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(directory / "config.toml.lock", flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _atomic_write(path: Path, text: str) -> None:
    """Write next to ``path`` and rename over it, keeping its mode (0600 for a new file)."""
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    renamed = False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        renamed = True
    finally:
        if not renamed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
