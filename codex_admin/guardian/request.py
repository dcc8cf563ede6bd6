"""What the guardian reviews: one planned action plus the evidence around it, as plain data.

The guardian does not import the agent (the DAG is agent → guardian): the agent's adapter
turns its approval request into the plain shapes below, and ``codex guardian review`` reads the
same shapes from stdin. :func:`parse_request` is the one validating entry point; it raises
:class:`~codex_admin.errors.CodexError` naming the offending field (``stdin: action.command:
...``), never a traceback.

Request (JSON on stdin, or a case file's ``[case.request]``)::

    {"action": {"type": "shell", "command": ["git", "push"], "cwd": "/repo",
                "sandbox_permissions": "require_escalated", "justification": "..."},
     "transcript": [{"role": "user", "text": "push it"},
                    {"role": "tool", "name": "shell", "kind": "result", "text": "..."}],
     "sandbox_mode": "workspace-write", "retry_reason": "...", "thread_id": "...",
     "turn_id": "...", "unreadable_paths": ["~/.ssh/**"]}

Actions: ``shell`` (``command`` argv, ``cwd``, ``sandbox_permissions``, ``justification``,
``additional_permissions``), ``apply_patch`` (``cwd``, ``patch``, optional ``files``) and
``network_access`` (``host``, ``protocol``, ``port``, optional ``trigger`` argv and
``possible_triggers``). For a patch, the files it touches are read from the patch's own
``*** Add/Update/Delete File:`` and ``*** Move to:`` headers and joined with any ``files`` the
caller lists: the reviewer judges what the patch does, not what its sender claims it does.

Transcript roles: ``user``, ``assistant``, ``developer`` and ``tool`` (with ``name`` and
``kind`` = ``call`` | ``result``); Codex's rendered spellings ``"tool shell call"`` /
``"tool web_search result"`` are accepted too. Only user and developer entries are trusted
evidence; everything else (tool output above all) is untrusted.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from codex_admin.errors import CodexError
from codex_admin.vocabulary import SandboxMode, SandboxPermissions

__all__ = [
    "Action",
    "ActionKind",
    "NetworkAction",
    "PatchAction",
    "ReviewRequest",
    "ShellAction",
    "TranscriptEntry",
    "parse_action",
    "parse_request",
    "parse_transcript",
    "patch_files",
]

MAX_TRANSCRIPT_ENTRIES = 10_000
MAX_TEXT_BYTES = 4 * 1024 * 1024


class ActionKind(StrEnum):
    SHELL = "shell"
    APPLY_PATCH = "apply_patch"
    NETWORK_ACCESS = "network_access"


@dataclass(frozen=True)
class ShellAction:
    """A command that wants to run outside what the sandbox allows (or after a denial)."""

    command: tuple[str, ...]
    cwd: str
    sandbox_permissions: SandboxPermissions = SandboxPermissions.USE_DEFAULT
    justification: str | None = None
    additional_permissions: Mapping[str, Any] | None = None
    kind: ActionKind = field(init=False, default=ActionKind.SHELL)

    def to_json(self) -> dict[str, Any]:
        """The action JSON the reviewer sees (Codex's fields; absent optionals omitted)."""
        data: dict[str, Any] = {
            "tool": "shell",
            "command": list(self.command),
            "cwd": self.cwd,
            "sandbox_permissions": self.sandbox_permissions.value,
        }
        if self.justification:
            data["justification"] = self.justification
        if self.additional_permissions:
            data["additional_permissions"] = dict(self.additional_permissions)
        return data

    def summary(self) -> dict[str, Any]:
        """The assessment-event form: the command as one shell string, cwd."""
        return {"type": "command", "command": shlex.join(self.command), "cwd": self.cwd}


@dataclass(frozen=True)
class PatchAction:
    """A patch in Codex's format; ``files`` are every path its headers name (absolute)."""

    cwd: str
    files: tuple[str, ...]
    patch: str
    kind: ActionKind = field(init=False, default=ActionKind.APPLY_PATCH)

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": "apply_patch",
            "cwd": self.cwd,
            "files": list(self.files),
            "patch": self.patch,
        }

    def summary(self) -> dict[str, Any]:
        """cwd and files only: the patch text is redacted from events (it may hold secrets)."""
        return {"type": "apply_patch", "cwd": self.cwd, "files": list(self.files)}


@dataclass(frozen=True)
class NetworkAction:
    """A connection the proxy's allow list does not cover (the proxy's allow-list miss)."""

    host: str
    protocol: str
    port: int
    trigger: tuple[str, ...] | None = None
    possible_triggers: tuple[tuple[str, ...], ...] = ()
    kind: ActionKind = field(init=False, default=ActionKind.NETWORK_ACCESS)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "tool": "network_access",
            "target": f"{self.protocol}://{self.host}:{self.port}",
            "host": self.host,
            "protocol": self.protocol,
            "port": self.port,
        }
        if self.trigger:
            data["trigger"] = list(self.trigger)
        if self.possible_triggers:
            data["possible_triggers"] = [list(t) for t in self.possible_triggers]
        return data

    def summary(self) -> dict[str, Any]:
        return {
            "type": "network_access",
            "host": self.host,
            "protocol": self.protocol,
            "port": self.port,
        }


Action = ShellAction | PatchAction | NetworkAction


@dataclass(frozen=True)
class TranscriptEntry:
    """One conversation entry. ``tool``/``tool_kind`` are set for role ``tool``."""

    role: str  # user | assistant | developer | tool
    text: str
    tool: str | None = None
    tool_kind: str | None = None  # call | result

    @property
    def trusted(self) -> bool:
        """User and developer messages are instructions; everything else is evidence."""
        return self.role in ("user", "developer")

    @property
    def is_tool(self) -> bool:
        return self.role == "tool"

    @property
    def label(self) -> str:
        if self.role == "tool":
            return f"tool {self.tool or 'unknown'} {self.tool_kind or 'result'}"
        return self.role


@dataclass(frozen=True)
class ReviewRequest:
    """One review: the action, the transcript so far, and where it happens."""

    action: Action
    transcript: tuple[TranscriptEntry, ...] = ()
    sandbox_mode: SandboxMode = SandboxMode.WORKSPACE_WRITE
    retry_reason: str | None = None
    thread_id: str | None = None
    turn_id: str | None = None
    target_item_id: str | None = None
    unreadable_paths: tuple[str, ...] = ()


# ----------------------------------------------------------------------------------- parsing


class _Fields:
    """Typed access to one JSON object with errors that name the field."""

    def __init__(self, data: Any, where: str, path: str) -> None:
        if not isinstance(data, Mapping):
            raise _error(where, path, f"must be an object, not {_type(data)}")
        self.data = data
        self.where = where
        self.path = path

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str, hint: str | None = None) -> CodexError:
        return _error(self.where, self._name(key), message, hint)

    def unknown(self, allowed: Sequence[str]) -> None:
        extra = sorted(str(k) for k in self.data if k not in allowed)
        if extra:
            raise _error(
                self.where,
                self.path or "request",
                f"unknown field(s) {', '.join(map(repr, extra))}",
                f"allowed here: {', '.join(allowed)}",
            )

    def text(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is required")
            return default
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {_type(value)}")
        if len(value.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
            raise self.fail(key, f"is longer than {MAX_TEXT_BYTES} bytes")
        if "\x00" in value:
            raise self.fail(key, "contains a NUL character")
        return value

    def argv(self, key: str, *, required: bool = False) -> tuple[str, ...] | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is required", 'give the argv as a list, e.g. ["ls", "-la"]')
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(
                key,
                "must be a list of strings (an argv)",
                'a shell string goes inside a wrapper: ["bash", "-lc", "SCRIPT"]',
            )
        if not value:
            raise self.fail(key, "must not be empty")
        if any("\x00" in v for v in value):
            raise self.fail(key, "contains a NUL character")
        return tuple(value)

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)


def _type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _error(where: str, path: str, message: str, hint: str | None = None) -> CodexError:
    return CodexError(f"{where}: {path}: {message}", hint=hint)


_PATCH_HEADER = re.compile(r"^\*\*\* (?:Add File|Update File|Delete File|Move to): (.+?)\s*$")


def patch_files(patch: str, cwd: str) -> tuple[str, ...]:
    """Every path a patch's headers name, made absolute against ``cwd`` (order kept)."""
    found: list[str] = []
    for line in patch.splitlines():
        match = _PATCH_HEADER.match(line)
        if match:
            path = match.group(1)
            found.append(posixpath.normpath(posixpath.join(cwd, path)))
    return tuple(dict.fromkeys(found))


def _absolute(fields: _Fields, key: str, value: str) -> str:
    if not value.startswith("/"):
        raise fields.fail(key, f"must be an absolute path, not {value!r}")
    return posixpath.normpath(value)


def parse_action(data: Any, *, where: str = "request", path: str = "action") -> Action:
    """One action object (see the module docstring)."""
    fields = _Fields(data, where, path)
    kind = fields.text("type", required=True)
    if kind == ActionKind.SHELL:
        fields.unknown(
            ("type", "command", "cwd", "sandbox_permissions", "justification",
             "additional_permissions")
        )  # fmt: skip
        command = fields.argv("command", required=True)
        assert command is not None
        cwd = _absolute(fields, "cwd", fields.text("cwd", required=True) or "")
        permissions = fields.text("sandbox_permissions", default="use_default") or "use_default"
        try:
            sandbox_permissions = SandboxPermissions(permissions)
        except ValueError:
            choices = ", ".join(p.value for p in SandboxPermissions)
            raise fields.fail(
                "sandbox_permissions", f"{permissions!r} is not one of {choices}"
            ) from None
        extra = fields.data.get("additional_permissions")
        if extra is not None and not isinstance(extra, Mapping):
            raise fields.fail("additional_permissions", "must be an object")
        return ShellAction(
            command=command,
            cwd=cwd,
            sandbox_permissions=sandbox_permissions,
            justification=fields.text("justification"),
            additional_permissions=dict(extra) if extra else None,
        )
    if kind == ActionKind.APPLY_PATCH:
        fields.unknown(("type", "cwd", "patch", "files"))
        cwd = _absolute(fields, "cwd", fields.text("cwd", required=True) or "")
        patch = fields.text("patch", required=True) or ""
        listed = tuple(posixpath.normpath(posixpath.join(cwd, f)) for f in fields.strings("files"))
        files = tuple(dict.fromkeys((*patch_files(patch, cwd), *listed)))
        return PatchAction(cwd=cwd, files=files, patch=patch)
    if kind == ActionKind.NETWORK_ACCESS:
        fields.unknown(("type", "host", "protocol", "port", "trigger", "possible_triggers"))
        host = (fields.text("host", required=True) or "").strip()
        if not host or any(c.isspace() for c in host):
            raise fields.fail("host", f"{host!r} is not a host name or address")
        protocol = (fields.text("protocol", default="https") or "https").lower()
        port = fields.data.get("port", 443 if protocol == "https" else 80)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise fields.fail("port", f"must be an integer 1-65535, not {port!r}")
        raw = fields.data.get("possible_triggers") or []
        if not isinstance(raw, list):
            raise fields.fail("possible_triggers", "must be a list of argv lists")
        candidates = []
        for index, entry in enumerate(raw):
            inner = _Fields({"argv": entry}, where, f"{path}.possible_triggers[{index}]")
            argv = inner.argv("argv", required=True)
            assert argv is not None
            candidates.append(argv)
        return NetworkAction(
            host=host,
            protocol=protocol,
            port=port,
            trigger=fields.argv("trigger"),
            possible_triggers=tuple(candidates),
        )
    raise fields.fail(
        "type",
        f"{kind!r} is not an action type",
        f"use one of: {', '.join(k.value for k in ActionKind)}",
    )


_ROLE_SPELLING = re.compile(r"^tool (\S+) (call|result)$")


def parse_transcript(
    data: Any, *, where: str = "request", path: str = "transcript"
) -> tuple[TranscriptEntry, ...]:
    """A list of ``{role, text}`` entries (see the module docstring for roles)."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise _error(where, path, f"must be a list, not {_type(data)}")
    if len(data) > MAX_TRANSCRIPT_ENTRIES:
        raise _error(where, path, f"has more than {MAX_TRANSCRIPT_ENTRIES} entries")
    entries: list[TranscriptEntry] = []
    for index, raw in enumerate(data):
        fields = _Fields(raw, where, f"{path}[{index}]")
        fields.unknown(("role", "text", "name", "kind"))
        role = fields.text("role", required=True) or ""
        text = fields.text("text", required=True) or ""
        name = fields.text("name")
        kind = fields.text("kind")
        spelled = _ROLE_SPELLING.match(role)
        if spelled:
            role, name, kind = "tool", spelled.group(1), spelled.group(2)
        if role not in ("user", "assistant", "developer", "tool"):
            raise fields.fail(
                "role",
                f"{role!r} is not a transcript role",
                'use user, assistant, developer, tool (with "name" and "kind") or "tool NAME call"',
            )
        if role == "tool":
            if kind not in (None, "call", "result"):
                raise fields.fail("kind", f"{kind!r} is not call or result")
            entries.append(TranscriptEntry("tool", text, name or "unknown", kind or "result"))
        else:
            if name is not None or kind is not None:
                raise fields.fail("name", "only tool entries have a name and kind")
            entries.append(TranscriptEntry(role, text))
    return tuple(entries)


def parse_request(data: Any, *, where: str = "request") -> ReviewRequest:
    """A whole review request (see the module docstring)."""
    fields = _Fields(data, where, "")
    fields.unknown(
        ("action", "transcript", "sandbox_mode", "retry_reason", "thread_id", "turn_id",
         "target_item_id", "unreadable_paths")
    )  # fmt: skip
    if "action" not in fields.data:
        raise fields.fail("action", "is required")
    action = parse_action(fields.data["action"], where=where)
    mode_text = fields.text("sandbox_mode", default="workspace-write") or "workspace-write"
    try:
        mode = SandboxMode.parse(mode_text)
    except ValueError:
        choices = ", ".join(m.value for m in SandboxMode)
        raise fields.fail("sandbox_mode", f"{mode_text!r} is not one of {choices}") from None
    return ReviewRequest(
        action=action,
        transcript=parse_transcript(fields.data.get("transcript"), where=where),
        sandbox_mode=mode,
        retry_reason=fields.text("retry_reason"),
        thread_id=fields.text("thread_id"),
        turn_id=fields.text("turn_id"),
        target_item_id=fields.text("target_item_id"),
        unreadable_paths=fields.strings("unreadable_paths"),
    )
