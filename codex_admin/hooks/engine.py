"""The hooks engine the agent calls: one :class:`HookEngine` per session, one method per event.

Each event method selects the runnable hooks for the event whose matcher selects the occurrence,
writes one JSON object to each on stdin (Claude-Code field names: ``session_id``,
``transcript_path``, ``cwd``, ``hook_event_name``, ``model``, ``permission_mode``, ``turn_id``
for turn-scoped events, plus the event's own fields), launches all synchronous handlers at once
(one cannot stop another from starting), waits for them, and folds their runs -- reported in
configured order -- into a typed outcome (:mod:`.outcomes`).

``async: true`` handlers are started the same way but never awaited by the event and never
affect its outcome (they finish too late to block or rewrite anything); their runs are collected
for :meth:`HookEngine.take_async_results`, so the agent can show them and hand their contexts to
the model on the next turn. :meth:`HookEngine.aclose` ends any still running.

Hooks run with exactly the environment given to the engine (the session's secret-stripped
environment) plus ``CODEX_PROJECT_DIR`` and ``CLAUDE_PROJECT_DIR`` (the project root, so Claude
Code scripts that use ``$CLAUDE_PROJECT_DIR`` work unchanged), in the session's cwd, outside the
sandbox.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_admin.hooks.model import HookDefinition, HookSet
from codex_admin.hooks.outcomes import (
    EventOutcome,
    PermissionRequestOutcome,
    PostToolUseOutcome,
    PreToolUseOutcome,
    SessionStartOutcome,
    StopOutcome,
    UserPromptOutcome,
    fold_permission_request,
    fold_post_tool_use,
    fold_pre_tool_use,
    fold_session_start,
    fold_simple,
    fold_stop,
    fold_user_prompt,
)
from codex_admin.hooks.results import Effect, EntryKind, HookEntry, HookRun, RunStatus, interpret
from codex_admin.hooks.runner import DEFAULT_MAX_OUTPUT, run_command
from codex_admin.vocabulary import HookEventName

__all__ = ["SHELL_TOOL_NAMES", "HookEngine", "SessionInfo", "ToolCall", "permission_mode"]

# Codex-side names of the shell tool; hooks see them all as Claude Code's `Bash`.
SHELL_TOOL_NAMES = frozenset(
    {"Bash", "shell", "shell_command", "exec_command", "local_shell", "container.exec"}
)
_PATCH_NAMES = frozenset({"apply_patch", "Write", "Edit"})


def permission_mode(approval_policy: str, sandbox_mode: str) -> str:
    """The Claude Code ``permission_mode`` closest to a Codex approval policy and sandbox."""
    if approval_policy == "never":
        return "bypassPermissions" if sandbox_mode == "danger-full-access" else "dontAsk"
    return "default"


@dataclass(frozen=True)
class SessionInfo:
    """The session fields every hook input carries."""

    session_id: str
    cwd: Path
    model: str = ""
    permission_mode: str = "default"
    transcript_path: Path | None = None


@dataclass(frozen=True)
class ToolCall:
    """A tool call as hooks see it: the Claude-style name, the input, and matcher aliases.

    Build with :meth:`shell`, :meth:`apply_patch`, :meth:`mcp` or :meth:`for_tool` so names
    match what Claude Code hook configurations expect (``Bash``; ``apply_patch`` also matched by
    ``Write`` and ``Edit``; ``mcp__<server>__<tool>``).
    """

    name: str
    input: Mapping[str, Any]
    use_id: str
    aliases: tuple[str, ...] = ()

    @property
    def matcher_inputs(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @classmethod
    def shell(
        cls, command: str | Sequence[str], use_id: str, *, description: str | None = None
    ) -> ToolCall:
        text = command if isinstance(command, str) else shlex.join(command)
        tool_input: dict[str, Any] = {"command": text}
        if description:
            tool_input["description"] = description
        return cls("Bash", tool_input, use_id)

    @classmethod
    def apply_patch(cls, patch: str, use_id: str, *, files: Sequence[str] = ()) -> ToolCall:
        """``files``: the paths the patch touches (``file_path`` is set when there is one)."""
        tool_input: dict[str, Any] = {"command": patch}
        if files:
            tool_input["file_paths"] = list(files)
            if len(files) == 1:
                tool_input["file_path"] = files[0]
        return cls("apply_patch", tool_input, use_id, ("Write", "Edit"))

    @classmethod
    def mcp(cls, server: str, tool: str, arguments: Mapping[str, Any], use_id: str) -> ToolCall:
        return cls(f"mcp__{server}__{tool}", dict(arguments), use_id)

    @classmethod
    def for_tool(cls, name: str, tool_input: Mapping[str, Any], use_id: str) -> ToolCall:
        """Map a Codex tool name (``shell``, ``exec_command``, ``apply_patch``, ...) to its hook
        identity; other names (MCP's ``mcp__s__t`` included) are used as they are."""
        if name in SHELL_TOOL_NAMES:
            command = tool_input.get("command", "")
            text = command if isinstance(command, str) else shlex.join(map(str, command))
            return cls("Bash", {**tool_input, "command": text}, use_id)
        if name in _PATCH_NAMES:
            return cls("apply_patch", dict(tool_input), use_id, ("Write", "Edit"))
        return cls(name, dict(tool_input), use_id)


@dataclass
class HookEngine:
    """Runs one session's hooks. Create once per session with its :class:`HookSet`.

    ``env`` is the exact environment hooks get (pass the session's secret-stripped one; this
    process's environment is never inherited). ``max_output`` caps each of stdout and stderr.
    """

    hooks: HookSet
    session: SessionInfo
    env: Mapping[str, str]
    max_output: int = DEFAULT_MAX_OUTPUT
    _async_tasks: set[asyncio.Task[HookRun]] = field(default_factory=set, init=False, repr=False)
    _async_done: list[HookRun] = field(default_factory=list, init=False, repr=False)
    _completions: itertools.count[int] = field(
        default_factory=itertools.count, init=False, repr=False
    )

    # --- events -------------------------------------------------------------------------

    async def session_start(self, source: str = "startup") -> SessionStartOutcome:
        """``source``: ``startup``, ``resume`` or ``clear`` (also the matcher input)."""
        runs = await self._dispatch(HookEventName.SESSION_START, {"source": source}, (source,))
        return fold_session_start(runs)

    async def user_prompt_submit(self, prompt: str, *, turn_id: str) -> UserPromptOutcome:
        runs = await self._dispatch(
            HookEventName.USER_PROMPT_SUBMIT, {"prompt": prompt}, None, turn_id=turn_id
        )
        return fold_user_prompt(runs, prompt)

    async def pre_tool_use(self, call: ToolCall, *, turn_id: str) -> PreToolUseOutcome:
        fields = {
            "tool_name": call.name,
            "tool_input": dict(call.input),
            "tool_use_id": call.use_id,
        }
        runs = await self._dispatch(
            HookEventName.PRE_TOOL_USE, fields, call.matcher_inputs, turn_id=turn_id, call=call
        )
        return fold_pre_tool_use(runs, call.input)

    async def permission_request(self, call: ToolCall, *, turn_id: str) -> PermissionRequestOutcome:
        fields = {
            "tool_name": call.name,
            "tool_input": dict(call.input),
            "tool_use_id": call.use_id,
        }
        runs = await self._dispatch(
            HookEventName.PERMISSION_REQUEST,
            fields,
            call.matcher_inputs,
            turn_id=turn_id,
            call=call,
        )
        return fold_permission_request(runs)

    async def post_tool_use(
        self, call: ToolCall, response: Any, *, turn_id: str
    ) -> PostToolUseOutcome:
        """``response``: the tool's result as JSON-able data (e.g. exit code and output)."""
        fields = {
            "tool_name": call.name,
            "tool_input": dict(call.input),
            "tool_response": response,
            "tool_use_id": call.use_id,
        }
        runs = await self._dispatch(
            HookEventName.POST_TOOL_USE, fields, call.matcher_inputs, turn_id=turn_id, call=call
        )
        return fold_post_tool_use(runs)

    async def stop(
        self,
        *,
        turn_id: str,
        stop_hook_active: bool,
        last_assistant_message: str | None,
    ) -> StopOutcome:
        fields = {
            "stop_hook_active": stop_hook_active,
            "last_assistant_message": last_assistant_message,
        }
        runs = await self._dispatch(HookEventName.STOP, fields, None, turn_id=turn_id)
        return fold_stop(runs)

    async def pre_compact(
        self, *, trigger: str, custom_instructions: str | None = None, turn_id: str | None = None
    ) -> EventOutcome:
        """``trigger``: ``manual`` or ``auto`` (also the matcher input)."""
        fields = {"trigger": trigger, "custom_instructions": custom_instructions}
        runs = await self._dispatch(HookEventName.PRE_COMPACT, fields, (trigger,), turn_id=turn_id)
        return fold_simple(runs)

    async def post_compact(self, *, trigger: str, turn_id: str | None = None) -> EventOutcome:
        fields = {"trigger": trigger}
        runs = await self._dispatch(HookEventName.POST_COMPACT, fields, (trigger,), turn_id=turn_id)
        return fold_simple(runs)

    async def session_end(self, *, reason: str = "other") -> EventOutcome:
        """``reason``: ``clear``, ``logout``, ``prompt_input_exit`` or ``other``."""
        runs = await self._dispatch(HookEventName.SESSION_END, {"reason": reason}, None)
        return fold_simple(runs)

    # --- introspection and async handlers ------------------------------------------------

    def matching(
        self, event: HookEventName, inputs: Sequence[str] | None = None
    ) -> tuple[HookDefinition, ...]:
        """The runnable hooks an occurrence selects (for "running" preview rows)."""
        return tuple(
            h for h in self.hooks.runnable if h.event is event and h.matcher.matches(inputs)
        )

    def take_async_results(self) -> tuple[HookRun, ...]:
        """Runs of ``async`` handlers that finished since the last call."""
        done, self._async_done = tuple(self._async_done), []
        return done

    async def wait_async(self, timeout: float | None = None) -> None:
        """Wait (at most ``timeout`` seconds) for running ``async`` handlers."""
        if self._async_tasks:
            await asyncio.wait(set(self._async_tasks), timeout=timeout)

    async def aclose(self) -> None:
        """Kill every ``async`` handler still running (call at session end)."""
        tasks = set(self._async_tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    # --- machinery ------------------------------------------------------------------------

    async def _dispatch(
        self,
        event: HookEventName,
        fields: Mapping[str, Any],
        inputs: Sequence[str] | None,
        *,
        turn_id: str | None = None,
        call: ToolCall | None = None,
    ) -> tuple[HookRun, ...]:
        selected = self.matching(event, inputs)
        if not selected:
            return ()
        payload: dict[str, Any] = {
            "session_id": self.session.session_id,
            "transcript_path": (
                str(self.session.transcript_path) if self.session.transcript_path else None
            ),
            "cwd": str(self.session.cwd),
            "hook_event_name": event.value,
            "model": self.session.model,
            "permission_mode": self.session.permission_mode,
        }
        if turn_id is not None:
            payload["turn_id"] = turn_id
        payload.update(fields)
        suffix = f":{call.use_id}" if call is not None else ""
        sync = [h for h in selected if not h.is_async]
        try:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as err:
            message = f"failed to serialize {event.value} hook input: {err}"
            return tuple(self._failed(h, message, suffix) for h in sync)
        for hook in selected:
            if hook.is_async:
                self._start_async(hook, event, data, suffix)
        return tuple(await asyncio.gather(*(self._run(h, event, data, suffix) for h in sync)))

    async def _run(
        self, hook: HookDefinition, event: HookEventName, data: bytes, suffix: str
    ) -> HookRun:
        result = await run_command(
            hook.command,
            stdin=data,
            cwd=self.session.cwd,
            env=self._hook_env(),
            timeout=hook.timeout,
            max_output=self.max_output,
        )
        order = next(self._completions)
        status, entries, effect = interpret(event, result)
        return HookRun(
            hook,
            status,
            tuple(entries),
            effect,
            result.exit_code,
            result.duration_ms,
            order,
            hook.id + suffix,
            timed_out=result.timed_out,
        )

    def _start_async(
        self, hook: HookDefinition, event: HookEventName, data: bytes, suffix: str
    ) -> None:
        task = asyncio.get_running_loop().create_task(self._run(hook, event, data, suffix))
        self._async_tasks.add(task)

        def collect(finished: asyncio.Task[HookRun]) -> None:
            self._async_tasks.discard(finished)
            if not finished.cancelled() and finished.exception() is None:
                self._async_done.append(finished.result())

        task.add_done_callback(collect)

    def _failed(self, hook: HookDefinition, message: str, suffix: str) -> HookRun:
        entry = HookEntry(EntryKind.ERROR, message)
        order = next(self._completions)
        return HookRun(hook, RunStatus.FAILED, (entry,), Effect(), None, 0, order, hook.id + suffix)

    def _hook_env(self) -> dict[str, str]:
        project = str(self.hooks.project_dir)
        return {**self.env, "CODEX_PROJECT_DIR": project, "CLAUDE_PROJECT_DIR": project}
