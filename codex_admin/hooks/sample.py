"""`codex hooks test`: fire one event with a sample input and report what the hooks decided.

No model is involved: the event's fields come from built-in samples, overridden by the caller's
JSON. For tool events a JSON object without ``tool_input``/``tool_response`` keys *is* the tool
input (``--tool Bash --input '{"command": "rm -rf ~"}'``); otherwise, and for every other event,
it holds the event's fields (``{"prompt": "..."}``, ``{"stop_hook_active": true}``, ...).
Matching hooks that may not run (untrusted, modified, disabled, invalid matcher) are listed as
skipped with the reason, so the report explains every hook the event selects.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codex_admin.errors import CodexError
from codex_admin.hooks.engine import HookEngine, SessionInfo, ToolCall
from codex_admin.hooks.matcher import MatcherKind
from codex_admin.hooks.model import TOOL_EVENTS, HookDefinition, HookSet
from codex_admin.hooks.outcomes import (
    EventOutcome,
    PermissionDecision,
    PermissionRequestOutcome,
    PreToolUseOutcome,
    UserPromptOutcome,
)
from codex_admin.vocabulary import HookEventName

__all__ = ["SampleReport", "run_sample_event"]

_SAMPLE_TOOL_INPUT: dict[str, dict[str, Any]] = {
    "Bash": {"command": "echo hello"},
    "apply_patch": {
        "command": "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n",
        "file_paths": ["hello.txt"],
        "file_path": "hello.txt",
    },
}


@dataclass(frozen=True)
class SampleReport:
    event: HookEventName
    inputs: tuple[str, ...] | None  # what matchers saw
    fields: dict[str, Any]
    outcome: EventOutcome
    skipped: tuple[tuple[HookDefinition, str], ...]

    @property
    def blocked(self) -> bool:
        """True when the hooks said no (a deny, a blocked prompt, a denied permission)."""
        outcome = self.outcome
        if isinstance(outcome, PreToolUseOutcome | UserPromptOutcome):
            return outcome.blocked
        if isinstance(outcome, PermissionRequestOutcome):
            return outcome.decision is PermissionDecision.DENY
        return False

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event.value,
            "matcher_inputs": list(self.inputs) if self.inputs is not None else None,
            "input": self.fields,
            "blocked": self.blocked,
            "outcome": self.outcome.to_json(),
            "skipped": [
                {"hook_id": hook.id, "reason": reason, "hook": hook.to_json()}
                for hook, reason in self.skipped
            ],
        }


def run_sample_event(
    hooks: HookSet,
    event: HookEventName,
    *,
    env: Mapping[str, str],
    tool: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> SampleReport:
    """Run the hooks ``event`` selects on a sample occurrence (blocking; spawns real hooks)."""
    return asyncio.run(_run(hooks, event, env, tool, dict(overrides or {})))


async def _run(
    hooks: HookSet,
    event: HookEventName,
    env: Mapping[str, str],
    tool: str | None,
    overrides: dict[str, Any],
) -> SampleReport:
    session = SessionInfo(session_id=f"hooks-test-{uuid.uuid4()}", cwd=hooks.cwd)
    engine = HookEngine(hooks, session, env)
    turn = "hooks-test-turn"
    call: ToolCall | None = None
    outcome: EventOutcome
    if event in TOOL_EVENTS:
        name = tool or "Bash"
        event_fields = "tool_input" in overrides or "tool_response" in overrides
        sample = _SAMPLE_TOOL_INPUT.get(ToolCall.for_tool(name, {}, "x").name, {})
        tool_input = overrides.get("tool_input", sample) if event_fields else overrides or sample
        if not isinstance(tool_input, dict):
            raise CodexError("`tool_input` must be a JSON object", hint='e.g. {"command": "ls"}')
        call = ToolCall.for_tool(name, tool_input, "hooks-test-call")
        if event is HookEventName.PRE_TOOL_USE:
            outcome = await engine.pre_tool_use(call, turn_id=turn)
        elif event is HookEventName.PERMISSION_REQUEST:
            outcome = await engine.permission_request(call, turn_id=turn)
        else:
            response = overrides.get("tool_response", {"exit_code": 0, "output": "hello\n"})
            outcome = await engine.post_tool_use(call, response, turn_id=turn)
        inputs: tuple[str, ...] | None = call.matcher_inputs
        fields = {"tool_name": call.name, "tool_input": dict(call.input)}
    elif tool is not None:
        raise CodexError(f"--tool applies only to tool events, not {event.value}")
    else:
        inputs, fields, outcome = await _other(engine, event, overrides, turn)
    await engine.wait_async(timeout=None)
    skipped = tuple(
        (hook, _why(hook))
        for hook in hooks.hooks
        if hook.event is event
        and not (hooks.enabled and hook.runnable)
        and (hook.matcher.kind is MatcherKind.INVALID or hook.matcher.matches(inputs))
    )
    return SampleReport(event, inputs, fields, outcome, skipped)


async def _other(
    engine: HookEngine, event: HookEventName, o: dict[str, Any], turn: str
) -> tuple[tuple[str, ...] | None, dict[str, Any], EventOutcome]:
    if event is HookEventName.SESSION_START:
        source = str(o.get("source", "startup"))
        return (source,), {"source": source}, await engine.session_start(source)
    if event is HookEventName.USER_PROMPT_SUBMIT:
        prompt = str(o.get("prompt", "hello"))
        return None, {"prompt": prompt}, await engine.user_prompt_submit(prompt, turn_id=turn)
    if event is HookEventName.STOP:
        active = bool(o.get("stop_hook_active", False))
        last = o.get("last_assistant_message", "Done.")
        fields = {"stop_hook_active": active, "last_assistant_message": last}
        outcome = await engine.stop(
            turn_id=turn, stop_hook_active=active, last_assistant_message=last
        )
        return None, fields, outcome
    if event in (HookEventName.PRE_COMPACT, HookEventName.POST_COMPACT):
        trigger = str(o.get("trigger", "manual"))
        if event is HookEventName.PRE_COMPACT:
            result = await engine.pre_compact(
                trigger=trigger, custom_instructions=o.get("custom_instructions"), turn_id=turn
            )
        else:
            result = await engine.post_compact(trigger=trigger, turn_id=turn)
        return (trigger,), {"trigger": trigger}, result
    if event is HookEventName.SESSION_END:
        reason = str(o.get("reason", "other"))
        return None, {"reason": reason}, await engine.session_end(reason=reason)
    raise CodexError(
        f"{event.value} hooks cannot be tested: this version does not fire {event.value}",
        hint="sub-agent events fire only when sub-agents exist",
    )


def _why(hook: HookDefinition) -> str:
    if hook.matcher.kind is MatcherKind.INVALID:
        return f"invalid matcher: {hook.matcher.error}"
    if not hook.enabled:
        return "disabled in your user config (hooks.state)"
    if not hook.trust.may_run:
        return f"{hook.trust.value}: run `codex hooks trust {hook.id}` after reviewing it"
    return "this version does not fire this event"
