"""Lifecycle hooks as the turn loop uses them (spec hooks §3.4), for every tool.

:class:`SessionHooks` wraps the session's :class:`~codex_admin.hooks.HookEngine` (or nothing,
when no hook is in force) with the agent's vocabulary:

* ``SessionStart`` -- extra context for the model, environment for later commands, or stop;
* ``UserPromptSubmit`` -- the prompt may be blocked (the turn fails, nothing reaches the model);
* ``PreToolUse`` -- fires for **every** tool, ``apply_patch`` and ``update_plan`` included; any
  deny is enforced (the tool does not run and the reason is its result), a rewrite replaces the
  input, ``ask`` forces the approval path (:data:`CURRENT_CALL`), context reaches the model;
* ``PermissionRequest`` -- on the approval path, before the reviewer: a deny refuses, an allow
  approves (only when it came from a managed hook or the reviewer is the user, so a user hook
  cannot bypass an admin-pinned auto-reviewer);
* ``PostToolUse`` -- feedback and context are appended to the tool's result; ``continue: false``
  ends the turn;
* ``Stop`` -- may continue the turn with a new prompt (``stop_hook_active`` set on the next
  round; bounded);
* ``PreCompact`` / ``SessionEnd``.

Hooks run outside the sandbox with the session's secret-stripped environment; their warnings
and failures become ``error`` items. Every run is exported as ``codex.hook.run``, and a
PreToolUse deny or a PermissionRequest allow/deny as ``codex.tool_decision`` with source
``config`` (see :mod:`.observability`).
"""

from __future__ import annotations

import contextvars
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codex_admin.agent.calls import ToolArgumentError, ToolCall, ToolResult, parse_arguments
from codex_admin.agent.observability import SessionObservability
from codex_admin.hooks import HookBlockedError

if TYPE_CHECKING:  # for readers and mypy: a session without hooks never loads the engine
    from codex_admin.hooks import EventOutcome, HookEngine
    from codex_admin.hooks import ToolCall as HookCall

__all__ = ["CURRENT_CALL", "CallState", "HookStop", "SessionHooks", "hook_call_for"]

MAX_STOP_CONTINUATIONS = 8


def _arguments_or_empty(call: ToolCall) -> dict[str, Any]:
    try:
        return parse_arguments(call)
    except ToolArgumentError:
        return {}


class HookStop(Exception):
    """A hook asked to end the turn (``continue: false``); ``str()`` is its reason."""


@dataclass
class CallState:
    """What hooks decided about the tool call being handled (one per call, per task)."""

    hook_call: HookCall
    force_approval: bool = False
    approval_reason: str | None = None


CURRENT_CALL: contextvars.ContextVar[CallState | None] = contextvars.ContextVar(
    "codex_current_call", default=None
)


def _shell_patch(name: str, arguments: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """``(patch, cd directory)`` when a shell call is an ``apply_patch`` heredoc the shell tool
    will apply as a patch (:mod:`codex_admin.apply_patch`'s recognition), else None."""
    argv = arguments.get("command")
    if name != "shell" or not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return None
    # Deferred: only hook runs get here, and the recogniser (tree-sitter) is costly to load.
    from codex_admin.apply_patch import PatchError, detect_invocation

    try:
        found = detect_invocation(argv)
    except PatchError:  # a bare patch: the shell tool refuses it
        return None
    return (found.patch, found.workdir) if found is not None else None


def hook_call_for(call: ToolCall) -> HookCall:
    """The hook identity of a model tool call (``Bash`` for the shell tool, ``apply_patch``
    matched by ``Write``/``Edit`` too, other tools by name). A shell call that the shell tool
    applies as a patch (``bash -lc "apply_patch <<'EOF' …"``) is an ``apply_patch`` call: a
    hook guarding edits must not be sidestepped by sending the patch through the shell."""
    # Deferred: the hook types come with the engine, which a session without hooks never loads.
    from codex_admin.hooks import ToolCall as HookCall

    if call.kind == "custom":
        return HookCall.for_tool(call.name, {"command": call.arguments}, call.call_id)
    try:
        arguments = parse_arguments(call)
    except ToolArgumentError:  # hooks still see what the model sent
        arguments = {"raw": call.arguments}
    name = "shell" if call.kind == "local_shell" else call.name
    if name == "apply_patch" and isinstance(arguments.get("input"), str):
        return HookCall.for_tool(name, {"command": arguments["input"]}, call.call_id)
    patch = _shell_patch(name, arguments)
    if patch is not None:
        return HookCall.for_tool("apply_patch", {"command": patch[0]}, call.call_id)
    return HookCall.for_tool(name, arguments, call.call_id)


def _rewritten(call: ToolCall, tool_input: Mapping[str, Any]) -> ToolCall:
    """``call`` with a PreToolUse hook's ``updatedInput`` (hook shapes back to tool shapes)."""
    if call.kind == "custom":
        return ToolCall(call.call_id, call.name, call.kind, str(tool_input.get("command", "")))
    original = {} if call.kind == "local_shell" else _arguments_or_empty(call)
    patch = _shell_patch(call.name, original)
    if patch is not None:
        # The hook saw (and rewrote) a patch: it stays a patch, in the directory it named.
        arguments = {**original, "command": ["apply_patch", str(tool_input.get("command", ""))]}
        if patch[1] is not None:
            arguments["workdir"] = os.path.join(str(original.get("workdir") or "."), patch[1])
        return ToolCall(call.call_id, call.name, "function", json.dumps(arguments))
    arguments = dict(tool_input)
    if call.name in ("shell", "local_shell") and isinstance(arguments.get("command"), str):
        # Claude-style hooks speak `command` as one shell string; it runs as `bash -lc`,
        # and is checked by the command rules like any model-written command.
        arguments["command"] = ["bash", "-lc", arguments["command"]]
    if call.name == "apply_patch" and "command" in arguments:
        arguments = {"input": arguments.pop("command")}
    return ToolCall(call.call_id, call.name, "function", json.dumps(arguments))


@dataclass
class SessionHooks:
    """The session's hooks (``engine`` None: no hook in force, every method is a no-op)."""

    engine: HookEngine | None
    warn: Callable[[str], None]
    reviewer_is_user: bool = False
    env: dict[str, str] = field(default_factory=dict)
    observe: SessionObservability = field(default_factory=SessionObservability.off)

    def _report(self, outcome: EventOutcome) -> None:
        self.observe.hook_runs(outcome)
        for message in (*outcome.warnings, *outcome.errors):
            self.warn(f"hook: {message}")

    async def session_start(self, source: str) -> tuple[list[str], str | None]:
        """Context for the model, and a stop reason when a hook ended the session."""
        if self.engine is None:
            return [], None
        outcome = await self.engine.session_start(source)
        self._report(outcome)
        self.env.update(outcome.env)
        stop = (
            (outcome.stop_reason or "a SessionStart hook stopped the session")
            if (outcome.stop)
            else None
        )
        return list(outcome.additional_contexts), stop

    async def user_prompt(self, text: str, turn_id: str) -> tuple[str, list[str]]:
        """The prompt to send and context for the model; HookBlockedError when blocked."""
        if self.engine is None:
            return text, []
        outcome = await self.engine.user_prompt_submit(text, turn_id=turn_id)
        self._report(outcome)
        contexts = list(outcome.additional_contexts)
        return outcome.prompt(), contexts

    async def run_tool(
        self,
        call: ToolCall,
        turn_id: str,
        handle: Callable[[ToolCall], Any],
    ) -> ToolResult:
        """PreToolUse → the tool (``handle``) → PostToolUse, with every decision enforced.

        Without an engine the tool just runs: no hook can ask, deny or rewrite, so there is no
        :class:`CallState` (:data:`CURRENT_CALL` stays None, which means exactly that)."""
        if self.engine is None:
            ran: ToolResult = await handle(call)
            return ran
        hook_call = hook_call_for(call)
        state = CallState(hook_call)
        token = CURRENT_CALL.set(state)
        try:
            pre = await self.engine.pre_tool_use(hook_call, turn_id=turn_id)
            self._report(pre)
            try:
                tool_input = pre.tool_input()
            except HookBlockedError as blocked:
                self.observe.denied_by_config()
                return ToolResult(f"blocked by hook: {blocked.reason}", success=False)
            if pre.rewritten:
                call = _rewritten(call, tool_input)
            state.force_approval = pre.requires_approval
            state.approval_reason = pre.approval_reason
            contexts = list(pre.additional_contexts)
            if pre.stop:
                raise HookStop(pre.stop_reason or "a PreToolUse hook ended the turn")
            result: ToolResult = await handle(call)
            response = {"output": result.output, "success": result.success}
            post = await self.engine.post_tool_use(hook_call, response, turn_id=turn_id)
            self._report(post)
            extra = [
                *contexts,
                *([post.feedback] if post.feedback else []),
                *post.additional_contexts,
            ]
            if extra:
                result = ToolResult(result.output + "\n\n" + "\n\n".join(extra), result.success)
            if post.stop:
                raise HookStop(post.stop_reason or "a PostToolUse hook ended the turn")
            return result
        finally:
            CURRENT_CALL.reset(token)

    async def permission(self, turn_id: str) -> tuple[bool | None, str | None]:
        """PermissionRequest for the call being handled: (True approve | False deny | None
        ask the reviewer, reason)."""
        state = CURRENT_CALL.get()
        if self.engine is None or state is None:
            return None, None
        # Loaded with the engine already: this is a lookup, not an import.
        from codex_admin.hooks import PermissionDecision

        outcome = await self.engine.permission_request(state.hook_call, turn_id=turn_id)
        self._report(outcome)
        if outcome.decision is PermissionDecision.DENY:
            self.observe.denied_by_config()
            return False, outcome.reason or "denied by a PermissionRequest hook"
        if outcome.decision is PermissionDecision.ALLOW and (
            outcome.allowed_by_managed or self.reviewer_is_user
        ):
            self.observe.approved_by_config()
            return True, None
        return None, None

    async def stop(self, turn_id: str, last_message: str | None, round_: int) -> str | None:
        """The prompt to continue the turn with, or None to let it end."""
        if self.engine is None:
            return None
        outcome = await self.engine.stop(
            turn_id=turn_id, stop_hook_active=round_ > 0, last_assistant_message=last_message
        )
        self._report(outcome)
        if outcome.stop or not outcome.should_continue:
            return None
        if round_ >= MAX_STOP_CONTINUATIONS:
            self.warn(
                f"Stop hooks asked to continue more than {MAX_STOP_CONTINUATIONS} times; "
                "the turn ends here"
            )
            return None
        return outcome.continuation

    async def pre_compact(self, turn_id: str | None) -> None:
        if self.engine is not None:
            self._report(await self.engine.pre_compact(trigger="auto", turn_id=turn_id))

    async def close(self) -> None:
        if self.engine is None:
            return
        try:
            self._report(await self.engine.session_end(reason="other"))
        finally:
            await self.engine.aclose()
