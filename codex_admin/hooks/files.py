"""Read hook files safely and parse hook event tables (`hooks.json` or a `[hooks]` TOML table).

Reading (the files come from folders a cloned repository controls):

* a `hooks.json` that is a symlink is followed only when its target stays inside the config
  folder (compared after resolving both); anything else is refused, so a repository cannot point
  `.codex/hooks.json` at a file of yours and have it parsed as its own;
* only regular files are read: the open is non-blocking and the descriptor is checked with
  ``fstat``, so a FIFO or device planted as `hooks.json` can neither hang nor feed the loader;
* at most :data:`MAX_HOOKS_FILE_BYTES` are read; a bigger file is an error, not a truncation.

Parsing: both shapes share one grammar (spec §3.2) -- event name -> list of matcher groups
``{matcher?, hooks: [{type, command, commandWindows?, timeout|timeoutSec?, async?,
statusMessage?}]}``. A `hooks.json` root accepts only ``hooks`` and ``description``; any other
root key rejects the file with a located error. Unknown keys inside groups and handlers are
ignored with a warning; ``prompt``/``agent`` handlers and empty commands are skipped with a
warning; wrong types are located errors. Timeouts default to 600 s and are at least 1 s.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex_admin.config import ConfigValidationError, Issue
from codex_admin.errors import CodexError, Location
from codex_admin.vocabulary import HookEventName

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_HOOKS_FILE_BYTES",
    "Locator",
    "ParsedHandler",
    "json_locator",
    "parse_event_table",
    "parse_hooks_json",
    "read_config_file",
    "read_regular_file",
]

DEFAULT_TIMEOUT = 600.0
MIN_TIMEOUT = 1.0
MAX_HOOKS_FILE_BYTES = 1024 * 1024

Locator = Callable[[Sequence[str | int]], Location]

_JSON_ROOT_KEYS = ("hooks", "description")
_GROUP_KEYS = ("matcher", "hooks")
_HANDLER_KEYS = (
    "type",
    "command",
    "commandWindows",
    "timeout",
    "timeoutSec",
    "async",
    "statusMessage",
)
_SKIPPED_TYPES = ("prompt", "agent", "mcp_tool", "http")


@dataclass(frozen=True)
class ParsedHandler:
    """One command handler as written, before trust and matching are attached."""

    event: HookEventName
    group_index: int
    handler_index: int
    matcher: str | None
    command: str
    timeout: float
    is_async: bool
    status_message: str | None


def read_config_file(folder: Path, name: str, *, what: str = "hooks file") -> str | None:
    """The UTF-8 text of ``folder/name``, None when absent; unsafe or unreadable is an error."""
    path = folder / name
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise CodexError(
            f"cannot read {what} {path}: {err.strerror or err}", location=Location(path)
        ) from None
    target = path
    if stat.S_ISLNK(info.st_mode):
        real = Path(os.path.realpath(path))
        root = Path(os.path.realpath(folder))
        if not real.is_relative_to(root):
            raise CodexError(
                f"{what} {path} is a symlink to {real}, outside {root}; refusing to follow it",
                location=Location(path),
                hint="replace the symlink with a regular file inside the config folder",
            )
        target = real
    data = _read_regular(target, MAX_HOOKS_FILE_BYTES, what)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line = before.count(b"\n") + 1
        column = err.start - (before.rfind(b"\n") + 1) + 1
        raise CodexError(
            f"invalid UTF-8 in {what}", location=Location(path, line, column)
        ) from None


def read_regular_file(path: Path, max_bytes: int) -> bytes | None:
    """Up to ``max_bytes`` of a regular file, or None for anything else (never blocks)."""
    try:
        return _read_regular(path, max_bytes, "file", truncate=True)
    except CodexError:
        return None


def _read_regular(path: Path, max_bytes: int, what: str, *, truncate: bool = False) -> bytes | None:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise CodexError(
            f"cannot read {what} {path}: {err.strerror or err}", location=Location(path)
        ) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CodexError(
                f"{what} {path} is not a regular file; refusing to read it",
                location=Location(path),
                hint="replace it with a regular file",
            )
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, min(65536, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        if truncate:
            return data[:max_bytes]
        raise CodexError(
            f"{what} {path} is larger than {max_bytes} bytes; refusing to read it",
            location=Location(path),
        )
    return data


def parse_hooks_json(text: str, where: str) -> tuple[list[ParsedHandler], list[str]]:
    """Parse a `hooks.json` document; raise a located error when it must be rejected."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise CodexError(
            f"invalid JSON in hooks file: {err.msg}",
            location=Location(where, err.lineno, err.colno),
            hint="fix the JSON syntax at that position",
        ) from None
    except RecursionError:
        raise CodexError("hooks file is nested too deeply", location=Location(where)) from None
    locate = json_locator(text, where)
    if not isinstance(doc, dict):
        raise CodexError(
            "a hooks file must be a JSON object with a `hooks` key", location=Location(where, 1, 1)
        )
    issues = [
        Issue(
            f"unknown root key `{key}` in hooks file (expected `hooks` or `description`)",
            locate([key]),
        )
        for key in doc
        if key not in _JSON_ROOT_KEYS
    ]
    if "description" in doc and not isinstance(doc["description"], str):
        issues.append(Issue("`description` must be a string", locate(["description"])))
    if issues:
        raise ConfigValidationError(issues, hint="remove or rename the keys listed above")
    return parse_event_table(doc.get("hooks", {}), prefix=("hooks",), locate=locate)


def parse_event_table(
    events: Any,
    *,
    prefix: tuple[str, ...],
    locate: Locator,
    strict_events: bool = False,
    skip_keys: Sequence[str] = (),
) -> tuple[list[ParsedHandler], list[str]]:
    """Parse ``{EventName: [group, ...]}``; ``strict_events`` makes unknown event names errors.

    Raises :class:`ConfigValidationError` listing every wrong type; returns the handlers in
    configured order (events as written, groups, handlers) and the warnings.
    """
    issues: list[Issue] = []
    warnings: list[str] = []
    handlers: list[ParsedHandler] = []
    if not isinstance(events, Mapping):
        raise ConfigValidationError(
            [Issue(f"`{'.'.join(prefix)}` must be a table of hook events", locate(prefix))]
        )
    known = ", ".join(e.value for e in HookEventName)
    for name, groups in events.items():
        key = (*prefix, name)
        if name in skip_keys:
            continue
        try:
            event = HookEventName(name)
        except ValueError:
            message = f"unknown hook event `{name}` (known: {known})"
            if strict_events:
                issues.append(Issue(message, locate(key)))
            else:
                warnings.append(f"{locate(key)}: {message}; ignored")
            continue
        if not isinstance(groups, list):
            issues.append(
                Issue(f"`{_dotted(key)}` must be an array of matcher groups", locate(key))
            )
            continue
        for g_index, group in enumerate(groups):
            handlers += _parse_group(
                event, g_index, group, (*key, g_index), locate, issues, warnings
            )
    if issues:
        raise ConfigValidationError(issues, hint="see the hooks section of README.md for the shape")
    return handlers, warnings


def _parse_group(
    event: HookEventName,
    g_index: int,
    group: Any,
    key: tuple[str | int, ...],
    locate: Locator,
    issues: list[Issue],
    warnings: list[str],
) -> list[ParsedHandler]:
    if not isinstance(group, Mapping):
        issues.append(Issue(f"`{_dotted(key)}` must be a table (a matcher group)", locate(key)))
        return []
    for extra in group:
        if extra not in _GROUP_KEYS:
            warnings.append(
                f"{locate((*key, extra))}: unknown key `{extra}` in a matcher group; ignored"
            )
    matcher = group.get("matcher")
    if matcher is not None and not isinstance(matcher, str):
        issues.append(
            Issue(f"`{_dotted((*key, 'matcher'))}` must be a string", locate((*key, "matcher")))
        )
        return []
    entries = group.get("hooks", [])
    if not isinstance(entries, list):
        issues.append(
            Issue(
                f"`{_dotted((*key, 'hooks'))}` must be an array of handlers",
                locate((*key, "hooks")),
            )
        )
        return []
    out = []
    for h_index, entry in enumerate(entries):
        parsed = _parse_handler(entry, (*key, "hooks", h_index), locate, issues, warnings)
        if parsed is not None:
            command, timeout, is_async, status = parsed
            out.append(
                ParsedHandler(event, g_index, h_index, matcher, command, timeout, is_async, status)
            )
    return out


def _parse_handler(
    entry: Any,
    key: tuple[str | int, ...],
    locate: Locator,
    issues: list[Issue],
    warnings: list[str],
) -> tuple[str, float, bool, str | None] | None:
    where = locate(key)
    if not isinstance(entry, Mapping):
        issues.append(Issue(f"`{_dotted(key)}` must be a table (a hook handler)", where))
        return None
    for extra in entry:
        if extra not in _HANDLER_KEYS:
            warnings.append(
                f"{locate((*key, extra))}: unknown key `{extra}` in a hook handler; ignored"
            )
    kind = entry.get("type", "command")
    if not isinstance(kind, str):
        issues.append(Issue(f"`{_dotted((*key, 'type'))}` must be a string", where))
        return None
    if kind != "command":
        what = "not supported yet" if kind in _SKIPPED_TYPES else "unknown"
        warnings.append(f"{where}: skipping `{kind}` hook handler ({what}; only `command` runs)")
        return None
    if "commandWindows" in entry and not isinstance(entry["commandWindows"], str):
        issues.append(Issue(f"`{_dotted((*key, 'commandWindows'))}` must be a string", where))
        return None
    field = "commandWindows" if sys.platform == "win32" and "commandWindows" in entry else "command"
    command = entry.get(field)
    if not isinstance(command, str):
        issues.append(
            Issue(f"`{_dotted((*key, field))}` must be a string (the shell command to run)", where)
        )
        return None
    if not command.strip():
        warnings.append(f"{where}: skipping hook handler with an empty command")
        return None
    if "timeout" in entry and "timeoutSec" in entry:
        issues.append(
            Issue(f"`{_dotted(key)}` sets both `timeout` and `timeoutSec`; keep one", where)
        )
        return None
    timeout_key = "timeoutSec" if "timeoutSec" in entry else "timeout"
    timeout = entry.get(timeout_key, DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        issues.append(
            Issue(
                f"`{_dotted((*key, timeout_key))}` must be a positive number of seconds",
                locate((*key, timeout_key)),
            )
        )
        return None
    is_async = entry.get("async", False)
    if not isinstance(is_async, bool):
        issues.append(
            Issue(f"`{_dotted((*key, 'async'))}` must be true or false", locate((*key, "async")))
        )
        return None
    status = entry.get("statusMessage")
    if status is not None and not isinstance(status, str):
        issues.append(
            Issue(
                f"`{_dotted((*key, 'statusMessage'))}` must be a string",
                locate((*key, "statusMessage")),
            )
        )
        return None
    return command, max(MIN_TIMEOUT, float(timeout)), is_async, status


def json_locator(text: str, where: str) -> Locator:
    """Best-effort ``path:line:col`` of a key path in JSON text (keys searched in sequence)."""

    def locate(path: Sequence[str | int]) -> Location:
        pos, found = 0, False
        for part in path:
            if isinstance(part, int):
                continue
            pattern = re.compile(re.escape(json.dumps(part)) + r"\s*:")
            match = pattern.search(text, pos)
            if match is None:
                break
            pos, found = match.start(), True
        if not found:
            return Location(where)
        line = text.count("\n", 0, pos) + 1
        return Location(where, line, pos - (text.rfind("\n", 0, pos) + 1) + 1)

    return locate


def _dotted(key: Sequence[str | int]) -> str:
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
