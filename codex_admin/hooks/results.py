"""What one handler's run means (spec §3.3-3.4): exit code and stdout -> status, entries, effect.

Exit codes, for every event:

* 0 -- stdout empty: no-op. A JSON object: acted on per event (below). JSON-looking but invalid:
  failed, no effect. Plain text: model context for SessionStart and UserPromptSubmit, ignored
  elsewhere.
* 2 -- the blocking signal, stderr is the reason (fed to the model).
* anything else, a signal, a spawn error or a timeout -- failed, no effect (fail open).

Universal JSON fields: ``continue`` (default true), ``stopReason``, ``systemMessage`` (shown as a
warning), ``suppressOutput`` (accepted, ignored).

Per event (``hso`` = ``hookSpecificOutput``):

=================  ==========================================================================
PreToolUse         ``hso.permissionDecision``: ``deny`` blocks (``permissionDecisionReason``);
                   ``allow`` + ``hso.updatedInput`` rewrites the input; ``ask`` forces the
                   approval path (may also carry ``updatedInput``). Deprecated
                   ``decision: "block"`` + ``reason`` blocks. ``hso.additionalContext`` adds
                   context. ``continue: false`` blocks the call and stops the turn.
PermissionRequest  ``hso.decision = {behavior: allow|deny, message}``; exit 2 denies. The
                   reserved ``updatedInput`` / ``updatedPermissions`` / ``interrupt: true`` make
                   the run fail with no verdict (the normal approval flow decides).
PostToolUse        ``decision: "block"`` + ``reason`` is feedback to the model (the tool already
                   ran); exit 2: stderr is feedback; ``hso.additionalContext``;
                   ``continue: false`` stops the turn (reason or stopReason as feedback);
                   ``updatedToolOutput`` / ``updatedMCPToolOutput`` are unsupported (fail open).
UserPromptSubmit   ``decision: "block"`` / exit 2 / ``continue: false`` stop the prompt;
                   ``hso.additionalContext`` (or plain stdout) adds context.
Stop               ``decision: "block"`` + non-empty ``reason`` (or exit 2 + stderr) continues
                   the turn with the reason as the next prompt; ``continue: false`` ends it.
SessionStart       ``hso.additionalContext`` (or plain stdout) adds context; ``hso.env`` sets
                   variables for later shell commands; ``continue: false`` stops the session.
others             universal fields only; exit 2 is reported, there is nothing to block.
=================  ==========================================================================

Where Codex fails open on an explicit block signal that lacks a reason (``deny`` without
``permissionDecisionReason``, ``decision: "block"`` without ``reason``, exit 2 with empty
stderr) we enforce the block with a generic reason, as Claude Code does: a hook that says no is
never ignored. ``allow`` without ``updatedInput`` and ``decision: "approve"`` never skip our
approvals (execpolicy, sandbox and reviewer still decide); the run records a warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from codex_admin.hooks.model import HookDefinition
from codex_admin.hooks.runner import CommandResult
from codex_admin.vocabulary import HookEventName

__all__ = ["Effect", "EntryKind", "HookEntry", "HookRun", "RunStatus", "interpret"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STDERR_IN_ERROR = 500


class RunStatus(StrEnum):
    COMPLETED = "completed"
    BLOCKED = "blocked"
    STOPPED = "stopped"
    FAILED = "failed"


class EntryKind(StrEnum):
    WARNING = "warning"  # systemMessage and notes for the user
    CONTEXT = "context"  # additional context for the model
    FEEDBACK = "feedback"  # a reason that goes back to the model
    STOP = "stop"  # why processing stopped
    ERROR = "error"  # why the hook failed


@dataclass(frozen=True)
class HookEntry:
    kind: EntryKind
    text: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "text": self.text}


@dataclass(frozen=True)
class Effect:
    """What a run asks for; the event's aggregation decides what wins."""

    block: bool = False  # deny / block prompt / deny permission / continue a Stop
    reason: str | None = None
    ask: bool = False
    allow: bool = False  # PermissionRequest only
    updated_input: dict[str, Any] | None = None
    contexts: tuple[str, ...] = ()
    feedback: tuple[str, ...] = ()
    stop: bool = False  # continue: false
    stop_reason: str | None = None
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HookRun:
    """One handler's run: Codex's hook run summary plus the effect it asked for."""

    hook: HookDefinition
    status: RunStatus
    entries: tuple[HookEntry, ...]
    effect: Effect
    exit_code: int | None
    duration_ms: int
    completion_order: int
    run_id: str
    timed_out: bool = False  # killed at its timeout (status ``failed``; telemetry says timeout)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.run_id,
            "hook_id": self.hook.id,
            "event_name": self.hook.event.value,
            "source": self.hook.source.value,
            "source_path": self.hook.source_path,
            "command": self.hook.command,
            "status_message": self.hook.status_message,
            "async": self.hook.is_async,
            "status": self.status.value,
            "exit_code": self.exit_code,
            "duration_ms": self.duration_ms,
            "entries": [e.to_json() for e in self.entries],
        }


@dataclass
class _Draft:
    status: RunStatus = RunStatus.COMPLETED
    entries: list[HookEntry] = field(default_factory=list)
    effect: dict[str, Any] = field(default_factory=dict)

    def add(self, kind: EntryKind, text: str) -> None:
        self.entries.append(HookEntry(kind, text))

    def fail(self, text: str) -> _Draft:
        self.status = RunStatus.FAILED
        self.add(EntryKind.ERROR, text)
        self.effect = {}
        return self


class _Invalid(Exception):
    """The hook's JSON has the wrong shape; the run fails with this message (fail open)."""


def interpret(
    event: HookEventName, result: CommandResult
) -> tuple[RunStatus, list[HookEntry], Effect]:
    """Status, entries and effect of one finished command for ``event``."""
    draft = _Draft()
    if result.stdout_truncated:
        draft.add(EntryKind.WARNING, "hook stdout was too large and was truncated")
    if result.error is not None:
        draft.fail(result.error)
    elif result.exit_code == 2:
        _exit_two(event, result.stderr.strip(), draft)
    elif result.exit_code is None:
        signal = f" (signal {result.signal})" if result.signal else ""
        draft.fail(f"hook exited without a status code{signal}")
    elif result.exit_code != 0:
        detail = result.stderr.strip()[:_STDERR_IN_ERROR]
        draft.fail(f"hook exited with code {result.exit_code}" + (f": {detail}" if detail else ""))
    else:
        _exit_zero(event, result.stdout.strip(), draft)
    return draft.status, draft.entries, Effect(**draft.effect)


def _exit_two(event: HookEventName, stderr: str, draft: _Draft) -> None:
    name = event.value
    if event in (
        HookEventName.PRE_TOOL_USE,
        HookEventName.PERMISSION_REQUEST,
        HookEventName.USER_PROMPT_SUBMIT,
    ):
        reason = stderr or f"{name} hook blocked this (exit code 2) without giving a reason"
        if not stderr:
            draft.add(
                EntryKind.WARNING, f"{name} hook exited with code 2 but wrote no reason to stderr"
            )
        _block(draft, reason)
    elif not stderr:
        draft.fail(f"{name} hook exited with code 2 but did not write a reason to stderr")
    elif event is HookEventName.POST_TOOL_USE:
        draft.add(EntryKind.FEEDBACK, stderr)
        draft.effect["feedback"] = (stderr,)
    elif event is HookEventName.STOP:
        _block(draft, stderr)
    else:
        draft.add(EntryKind.WARNING, stderr)


def _block(draft: _Draft, reason: str) -> None:
    draft.status = RunStatus.BLOCKED
    draft.add(EntryKind.FEEDBACK, reason)
    draft.effect.update(block=True, reason=reason)


def _exit_zero(event: HookEventName, stdout: str, draft: _Draft) -> None:
    if not stdout:
        return
    try:
        value = json.loads(stdout)
    except (json.JSONDecodeError, RecursionError):
        value = None
    if isinstance(value, dict):
        try:
            _PARSERS.get(event, _universal_only)(value, draft, event)
        except _Invalid as err:
            draft.fail(f"{event.value} hook returned invalid output: {err}")
        return
    if stdout[:1] in ("{", "["):
        draft.fail(f"hook returned invalid {event.value} JSON output")
    elif event in (HookEventName.USER_PROMPT_SUBMIT, HookEventName.SESSION_START):
        _context(draft, stdout)


def _context(draft: _Draft, text: str) -> None:
    draft.add(EntryKind.CONTEXT, text)
    draft.effect["contexts"] = (*draft.effect.get("contexts", ()), text)


# --- field access -------------------------------------------------------------------------


def _str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise _Invalid(f"`{key}` must be a string")
    return value


def _text(obj: Mapping[str, Any], key: str) -> str | None:
    """A non-blank string field, stripped; None when absent or blank."""
    value = _str(obj, key)
    return value.strip() if value and value.strip() else None


def _universal(obj: Mapping[str, Any], draft: _Draft) -> tuple[bool, str | None]:
    cont = obj.get("continue", True)
    if not isinstance(cont, bool):
        raise _Invalid("`continue` must be true or false")
    if not isinstance(obj.get("suppressOutput", False), bool):
        raise _Invalid("`suppressOutput` must be true or false")
    message = _text(obj, "systemMessage")
    stop_reason = _text(obj, "stopReason")
    if message:
        draft.add(EntryKind.WARNING, message)
    return cont, stop_reason


def _specific(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    hso = obj.get("hookSpecificOutput", {})
    if not isinstance(hso, Mapping):
        raise _Invalid("`hookSpecificOutput` must be an object")
    return hso


def _stop(draft: _Draft, reason: str | None, default: str) -> None:
    draft.status = RunStatus.STOPPED
    text = reason or default
    draft.add(EntryKind.STOP, text)
    draft.effect.update(stop=True, stop_reason=text)


# --- per-event parsers --------------------------------------------------------------------


def _pre_tool_use(obj: Mapping[str, Any], draft: _Draft, event: HookEventName) -> None:
    cont, stop_reason = _universal(obj, draft)
    hso = _specific(obj)
    decision = _str(hso, "permissionDecision")
    reason = _text(hso, "permissionDecisionReason")
    legacy = _str(obj, "decision")
    legacy_reason = _text(obj, "reason")
    updated = hso.get("updatedInput")
    if updated is not None and not isinstance(updated, dict):
        raise _Invalid("`hookSpecificOutput.updatedInput` must be an object")
    context = _text(hso, "additionalContext")
    if decision is None and legacy is None and updated is not None:
        raise _Invalid('`updatedInput` needs `permissionDecision: "allow"` (or "ask")')
    if decision not in (None, "allow", "deny", "ask"):
        raise _Invalid(f"unsupported permissionDecision {decision!r}")
    if decision is None and legacy not in (None, "block", "approve"):
        raise _Invalid(f"unsupported decision {legacy!r}")
    if context:
        _context(draft, context)
    if not cont:
        _block(
            draft, stop_reason or reason or legacy_reason or "PreToolUse hook stopped processing"
        )
        _stop(draft, stop_reason, "PreToolUse hook stopped processing")
        draft.status = RunStatus.BLOCKED
    elif decision == "deny" or (decision is None and legacy == "block"):
        _block(
            draft,
            (reason if decision else legacy_reason) or "PreToolUse hook denied this tool call",
        )
    elif decision == "ask":
        draft.effect.update(ask=True, reason=reason)
        if updated is not None:
            draft.effect["updated_input"] = updated
    elif decision == "allow" and updated is not None:
        draft.effect["updated_input"] = updated
    elif decision == "allow" or legacy == "approve":
        draft.add(
            EntryKind.WARNING,
            "PreToolUse hook returned allow; hooks cannot skip approvals here, so it has no effect",
        )


def _permission_request(obj: Mapping[str, Any], draft: _Draft, event: HookEventName) -> None:
    cont, stop_reason = _universal(obj, draft)
    decision = _specific(obj).get("decision")
    if not cont:
        _block(draft, stop_reason or "PermissionRequest hook stopped processing")
        return
    if decision is None:
        return
    if not isinstance(decision, Mapping):
        raise _Invalid("`hookSpecificOutput.decision` must be an object")
    for reserved in ("updatedInput", "updatedPermissions"):
        if decision.get(reserved) is not None:
            raise _Invalid(f"`{reserved}` is not supported")
    if decision.get("interrupt") is True:
        raise _Invalid("`interrupt: true` is not supported")
    behavior = _str(decision, "behavior")
    if behavior == "deny":
        _block(draft, _text(decision, "message") or "PermissionRequest hook denied approval")
    elif behavior == "allow":
        draft.effect["allow"] = True
    else:
        raise _Invalid(f"unsupported behavior {behavior!r}")


def _post_tool_use(obj: Mapping[str, Any], draft: _Draft, event: HookEventName) -> None:
    cont, stop_reason = _universal(obj, draft)
    hso = _specific(obj)
    for unsupported in ("updatedToolOutput", "updatedMCPToolOutput"):
        if hso.get(unsupported) is not None:
            raise _Invalid(f"`{unsupported}` is not supported")
    decision = _str(obj, "decision")
    reason = _text(obj, "reason")
    if decision not in (None, "block"):
        raise _Invalid(f"unsupported decision {decision!r}")
    if decision == "block" and not reason and cont:
        raise _Invalid('decision "block" needs a non-empty `reason`')
    context = _text(hso, "additionalContext")
    if context:
        _context(draft, context)
    if not cont:
        _stop(draft, stop_reason, "PostToolUse hook stopped execution")
        text = reason or stop_reason or "PostToolUse hook stopped execution"
        draft.effect["feedback"] = (text,)
    elif decision == "block" and reason:
        draft.status = RunStatus.BLOCKED
        draft.add(EntryKind.FEEDBACK, reason)
        draft.effect["feedback"] = (reason,)


def _user_prompt_submit(obj: Mapping[str, Any], draft: _Draft, event: HookEventName) -> None:
    cont, stop_reason = _universal(obj, draft)
    decision = _str(obj, "decision")
    if decision not in (None, "block"):
        raise _Invalid(f"unsupported decision {decision!r}")
    context = _text(_specific(obj), "additionalContext")
    if context:
        _context(draft, context)
    if not cont:
        _block(draft, stop_reason or "UserPromptSubmit hook stopped this prompt")
        draft.status = RunStatus.STOPPED
    elif decision == "block":
        _block(draft, _text(obj, "reason") or "UserPromptSubmit hook blocked this prompt")


def _stop_event(obj: Mapping[str, Any], draft: _Draft, event: HookEventName) -> None:
    cont, stop_reason = _universal(obj, draft)
    decision = _str(obj, "decision")
    if decision not in (None, "block"):
        raise _Invalid(f"unsupported decision {decision!r}")
    reason = _text(obj, "reason")
    if not cont:
        _stop(draft, stop_reason, "Stop hook ended processing")
    elif decision == "block":
        if not reason:
            raise _Invalid('decision "block" needs a non-empty `reason` (the continuation prompt)')
        _block(draft, reason)


def _session_start(obj: Mapping[str, Any], draft: _Draft, event: HookEventName) -> None:
    cont, stop_reason = _universal(obj, draft)
    hso = _specific(obj)
    env = hso.get("env", {})
    if not isinstance(env, Mapping) or not all(
        isinstance(k, str) and _ENV_NAME.match(k) and isinstance(v, str) for k, v in env.items()
    ):
        raise _Invalid("`hookSpecificOutput.env` must map variable names to strings")
    context = _text(hso, "additionalContext")
    if context:
        _context(draft, context)
    if env:
        draft.effect["env"] = tuple(env.items())
    if not cont:
        _stop(draft, stop_reason, "SessionStart hook stopped the session")


def _universal_only(obj: Mapping[str, Any], draft: _Draft, event: HookEventName) -> None:
    cont, stop_reason = _universal(obj, draft)
    if not cont:
        _stop(draft, stop_reason, f"{event.value} hook stopped processing")


_PARSERS = {
    HookEventName.PRE_TOOL_USE: _pre_tool_use,
    HookEventName.PERMISSION_REQUEST: _permission_request,
    HookEventName.POST_TOOL_USE: _post_tool_use,
    HookEventName.USER_PROMPT_SUBMIT: _user_prompt_submit,
    HookEventName.STOP: _stop_event,
    HookEventName.SESSION_START: _session_start,
}
