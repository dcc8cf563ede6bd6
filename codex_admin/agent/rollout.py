"""Session rollouts: every thread recorded as JSONL, so it can be audited and resumed.

Path and line shape follow Codex: ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<thread
id>.jsonl``, one ``{"timestamp", "type", "payload"}`` object per line with types
``session_meta`` (first line), ``response_item`` (the model-visible history), ``event_msg``
(what front-ends saw), ``turn_context`` and ``compacted`` (a replacement history).

Differences from Codex, on purpose: files are created 0600 in 0700 folders with ``O_NOFOLLOW``
and ``O_EXCL`` (a planted symlink cannot redirect a session), every line is written with one
``write(2)`` as it happens (a crash loses at most the item in flight), and every string passes
through a redactor first, so API keys, bearer tokens and private keys never reach the disk.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codex_admin.errors import CodexError

__all__ = [
    "RolloutRecord",
    "RolloutState",
    "RolloutWriter",
    "find_rollout",
    "list_rollouts",
    "read_rollout",
]

Redactor = Callable[[str], str]
_MAX_LINE = 64 * 1024 * 1024  # a rollout line larger than this is corrupt, not data


def _timestamp(now: datetime | None = None) -> str:
    moment = now or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _redact_value(value: Any, redact: Redactor) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: _redact_value(item, redact) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item, redact) for item in value]
    return value


class RolloutWriter:
    """Appends one thread's records; create with :meth:`create`, append with :meth:`write`."""

    def __init__(self, path: Path, fd: int, redact: Redactor) -> None:
        self.path = path
        self._fd = fd
        self._redact = redact

    @classmethod
    def create(
        cls,
        codex_home: Path,
        thread_id: str,
        *,
        redact: Redactor,
        now: datetime | None = None,
    ) -> RolloutWriter:
        moment = now or datetime.now(UTC)
        folder = codex_home / "sessions" / f"{moment:%Y}" / f"{moment:%m}" / f"{moment:%d}"
        _make_private_dirs(codex_home, folder)
        path = folder / f"rollout-{moment:%Y-%m-%dT%H-%M-%S}-{thread_id}.jsonl"
        return cls(path, _open_append(path, create=True), redact)

    @classmethod
    def reopen(cls, path: Path, *, redact: Redactor) -> RolloutWriter:
        """Append to an existing rollout (``codex exec resume``)."""
        return cls(path, _open_append(path, create=False), redact)

    def write(self, kind: str, payload: Mapping[str, Any]) -> None:
        record = {
            "timestamp": _timestamp(),
            "type": kind,
            "payload": _redact_value(payload, self._redact),
        }
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        data = line.encode("utf-8")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _make_private_dirs(codex_home: Path, folder: Path) -> None:
    current = codex_home
    for part in folder.relative_to(codex_home).parts:
        current = current / part
        try:
            current.mkdir(mode=0o700)
        except FileExistsError:
            info = current.lstat()
            if not stat.S_ISDIR(info.st_mode):
                raise CodexError(
                    f"cannot record the session: {current} is not a directory",
                    hint="remove it, or run with --ephemeral",
                ) from None


def _open_append(path: Path, *, create: bool) -> int:
    flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    if create:
        flags |= os.O_CREAT | os.O_EXCL
    try:
        return os.open(path, flags, 0o600)
    except OSError as err:
        raise CodexError(
            f"cannot record the session in {path}: {err.strerror}",
            hint="check $CODEX_HOME/sessions (symlinks are refused), or run with --ephemeral",
        ) from None


# ------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class RolloutRecord:
    """One line of a rollout file: its kind and payload."""

    kind: str
    payload: dict[str, Any]


@dataclass
class RolloutState:
    """What resuming needs: the session's metadata and its model-visible history."""

    path: Path
    meta: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def thread_id(self) -> str:
        return str(self.meta.get("id", ""))

    @property
    def cwd(self) -> str | None:
        cwd = self.meta.get("cwd")
        return str(cwd) if isinstance(cwd, str) else None


def _records(path: Path) -> Iterator[RolloutRecord]:
    try:
        handle = path.open("rb")
    except OSError as err:
        raise CodexError(f"cannot read session {path}: {err.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if len(raw) > _MAX_LINE:
                raise CodexError(f"{path}:{number}: session record is too large")
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise CodexError(
                    f"{path}:{number}: not a session record (invalid JSON)",
                    hint="the rollout file is damaged; start a new session",
                ) from None
            if isinstance(record, dict) and isinstance(record.get("payload"), dict):
                yield RolloutRecord(str(record.get("type", "")), record["payload"])


def read_rollout(path: Path) -> RolloutState:
    """Rebuild a thread: metadata plus history, honouring ``compacted`` replacements."""
    state: RolloutState | None = None
    for record in _records(path):
        if record.kind == "session_meta" and state is None:
            state = RolloutState(path, record.payload)
        elif state is None:
            break
        elif record.kind == "response_item":
            state.history.append(record.payload)
        elif record.kind == "compacted":
            replacement = record.payload.get("replacement_history")
            if isinstance(replacement, list):
                state.history = [item for item in replacement if isinstance(item, dict)]
    if state is None:
        raise CodexError(f"{path} is not a session rollout (no session_meta line)")
    return state


def list_rollouts(codex_home: Path) -> list[Path]:
    """Every rollout file, newest first (by name, which starts with the creation time)."""
    root = codex_home / "sessions"
    if not root.is_dir():
        return []
    found = [p for p in root.glob("*/*/*/rollout-*.jsonl") if p.is_file() and not p.is_symlink()]
    return sorted(found, key=lambda p: p.name, reverse=True)


def find_rollout(codex_home: Path, session: str | None, *, cwd: Path | None = None) -> RolloutState:
    """The rollout of ``session`` (a thread id), or the newest one (``session=None``).

    With ``cwd`` only sessions recorded in that directory count (Codex's default for
    ``--last``; ``--all`` passes None).
    """
    for path in list_rollouts(codex_home):
        if session is not None and not path.stem.endswith(session):
            continue
        state = read_rollout(path)
        if session is not None and state.thread_id != session:
            continue
        if cwd is not None and state.cwd != str(cwd):
            continue
        return state
    if session is None:
        where = f" in {cwd}" if cwd is not None else ""
        raise CodexError(
            f"no recorded session{where} to resume",
            hint="run `codex exec` first, or pass --all to look in every directory",
        )
    raise CodexError(
        f"no recorded session with id {session}",
        hint="the id is printed in `thread.started`; sessions live in $CODEX_HOME/sessions",
    )
