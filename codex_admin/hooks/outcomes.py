"""Typed outcomes of one event, folded from its runs (spec §3.4), that the agent acts on.

Folding rules:

* PreToolUse: any deny wins (the reasons of every denying hook are joined); otherwise ``ask``
  from any hook forces the approval path; an input rewrite comes from the hook that *finished
  last* and is ignored when the call is blocked. The input to run is only reachable through
  :meth:`PreToolUseOutcome.tool_input`, which raises :class:`HookBlockedError` on a deny -- a
  deny cannot be ignored by forgetting to check a flag.
* PermissionRequest: any deny wins; else any allow approves; else no verdict.
* UserPromptSubmit: any block stops the prompt (:meth:`UserPromptOutcome.prompt` raises);
  contexts are kept either way.
* PostToolUse: feedback and contexts concatenated; ``continue: false`` from any hook stops.
* Stop: ``continue: false`` from any hook wins and ends processing; otherwise every blocking
  hook's reason is joined into one continuation prompt.
* SessionStart: contexts concatenated; ``env`` maps merged in configured order (later wins).

Texts are joined with a blank line, in configured order.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from codex_admin.hooks.blocked import HookBlockedError
from codex_admin.hooks.results import EntryKind, HookRun

__all__ = [
    "EventOutcome",
    "HookBlockedError",
    "PermissionDecision",
    "PermissionRequestOutcome",
    "PostToolUseOutcome",
    "PreToolUseOutcome",
    "SessionStartOutcome",
    "StopOutcome",
    "UserPromptOutcome",
    "fold_permission_request",
    "fold_post_tool_use",
    "fold_pre_tool_use",
    "fold_session_start",
    "fold_simple",
    "fold_stop",
    "fold_user_prompt",
]


def _join(texts: list[str]) -> str | None:
    return "\n\n".join(texts) if texts else None


@dataclass(frozen=True)
class EventOutcome:
    """Runs in configured order, and what the user should see about them."""

    runs: tuple[HookRun, ...] = ()

    @property
    def warnings(self) -> tuple[str, ...]:
        """``systemMessage`` texts and notes, for the user (not the model)."""
        return tuple(e.text for r in self.runs for e in r.entries if e.kind is EntryKind.WARNING)

    @property
    def errors(self) -> tuple[str, ...]:
        """Why hooks failed (they failed open), for the user."""
        return tuple(
            f"{r.hook.id}: {e.text}"
            for r in self.runs
            for e in r.entries
            if e.kind is EntryKind.ERROR
        )

    def to_json(self) -> dict[str, Any]:
        return {"runs": [r.to_json() for r in self.runs]}


@dataclass(frozen=True)
class PreToolUseOutcome(EventOutcome):
    blocked: bool = False
    reason: str | None = None  # the deny reason for the model
    requires_approval: bool = False  # a hook answered "ask"
    approval_reason: str | None = None
    rewritten: bool = False
    additional_contexts: tuple[str, ...] = ()
    stop: bool = False  # a hook returned continue:false: end the turn after reporting
    stop_reason: str | None = None
    _input: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def tool_input(self) -> dict[str, Any]:
        """The input the tool must run with (rewritten when a hook said so).

        Raises :class:`HookBlockedError` when any hook denied the call.
        """
        if self.blocked:
            raise HookBlockedError(self.reason or "blocked by a PreToolUse hook", self.runs)
        return copy.deepcopy(dict(self._input))

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": "deny"
            if self.blocked
            else ("ask" if self.requires_approval else "proceed"),
            "reason": self.reason if self.blocked else self.approval_reason,
            "rewritten": self.rewritten and not self.blocked,
            "tool_input": None if self.blocked else dict(self._input),
            "additional_contexts": list(self.additional_contexts),
            "stop": self.stop,
            "stop_reason": self.stop_reason,
            **super().to_json(),
        }


class PermissionDecision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    NONE = "none"  # no hook decided: the normal approval flow (reviewer) decides


@dataclass(frozen=True)
class PermissionRequestOutcome(EventOutcome):
    decision: PermissionDecision = PermissionDecision.NONE
    reason: str | None = None  # the deny message
    allowed_by_managed: bool = False  # an allow came from at least one managed hook

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "reason": self.reason,
            "allowed_by_managed": self.allowed_by_managed,
            **super().to_json(),
        }


@dataclass(frozen=True)
class PostToolUseOutcome(EventOutcome):
    feedback: str | None = None  # goes back to the model with the tool's result
    additional_contexts: tuple[str, ...] = ()
    stop: bool = False
    stop_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "feedback": self.feedback,
            "additional_contexts": list(self.additional_contexts),
            "stop": self.stop,
            "stop_reason": self.stop_reason,
            **super().to_json(),
        }


@dataclass(frozen=True)
class UserPromptOutcome(EventOutcome):
    blocked: bool = False
    reason: str | None = None  # for the user: why the prompt was not sent
    additional_contexts: tuple[str, ...] = ()
    _prompt: str = field(default="", repr=False)

    def prompt(self) -> str:
        """The prompt to send. Raises :class:`HookBlockedError` when a hook blocked it."""
        if self.blocked:
            raise HookBlockedError(self.reason or "blocked by a UserPromptSubmit hook", self.runs)
        return self._prompt

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": "block" if self.blocked else "proceed",
            "reason": self.reason,
            "additional_contexts": list(self.additional_contexts),
            **super().to_json(),
        }


@dataclass(frozen=True)
class StopOutcome(EventOutcome):
    continuation: str | None = None  # set: continue the turn with this prompt
    stop: bool = False  # continue:false: end processing (wins over continuation)
    stop_reason: str | None = None

    @property
    def should_continue(self) -> bool:
        return self.continuation is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": "continue" if self.should_continue else "stop",
            "continuation": self.continuation,
            "stop": self.stop,
            "stop_reason": self.stop_reason,
            **super().to_json(),
        }


@dataclass(frozen=True)
class SessionStartOutcome(EventOutcome):
    additional_contexts: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    stop: bool = False
    stop_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "additional_contexts": list(self.additional_contexts),
            "env": dict(self.env),
            "stop": self.stop,
            "stop_reason": self.stop_reason,
            **super().to_json(),
        }


# --- folds --------------------------------------------------------------------------------


def _contexts(runs: tuple[HookRun, ...]) -> tuple[str, ...]:
    return tuple(c for r in runs for c in r.effect.contexts)


def _first_stop(runs: tuple[HookRun, ...]) -> tuple[bool, str | None]:
    stops = [r for r in runs if r.effect.stop]
    return bool(stops), next((r.effect.stop_reason for r in stops if r.effect.stop_reason), None)


def fold_pre_tool_use(
    runs: tuple[HookRun, ...], tool_input: Mapping[str, Any]
) -> PreToolUseOutcome:
    blockers = [r for r in runs if r.effect.block]
    askers = [r for r in runs if r.effect.ask]
    stop, stop_reason = _first_stop(runs)
    rewrites = [r for r in runs if r.effect.updated_input is not None and not r.effect.block]
    final: Mapping[str, Any] = tool_input
    if rewrites and not blockers:
        latest = max(rewrites, key=lambda r: r.completion_order)
        assert latest.effect.updated_input is not None
        final = latest.effect.updated_input
    return PreToolUseOutcome(
        runs=runs,
        blocked=bool(blockers),
        reason=_join([r.effect.reason for r in blockers if r.effect.reason]),
        requires_approval=bool(askers) and not blockers,
        approval_reason=_join([r.effect.reason for r in askers if r.effect.reason]),
        rewritten=bool(rewrites) and not blockers,
        additional_contexts=_contexts(runs),
        stop=stop,
        stop_reason=stop_reason,
        _input=copy.deepcopy(dict(final)),
    )


def fold_permission_request(runs: tuple[HookRun, ...]) -> PermissionRequestOutcome:
    deniers = [r for r in runs if r.effect.block]
    allowers = [r for r in runs if r.effect.allow]
    if deniers:
        return PermissionRequestOutcome(
            runs=runs,
            decision=PermissionDecision.DENY,
            reason=_join([r.effect.reason for r in deniers if r.effect.reason]),
        )
    if allowers:
        return PermissionRequestOutcome(
            runs=runs,
            decision=PermissionDecision.ALLOW,
            allowed_by_managed=any(r.hook.managed for r in allowers),
        )
    return PermissionRequestOutcome(runs=runs)


def fold_post_tool_use(runs: tuple[HookRun, ...]) -> PostToolUseOutcome:
    stop, stop_reason = _first_stop(runs)
    return PostToolUseOutcome(
        runs=runs,
        feedback=_join([f for r in runs for f in r.effect.feedback]),
        additional_contexts=_contexts(runs),
        stop=stop,
        stop_reason=stop_reason,
    )


def fold_user_prompt(runs: tuple[HookRun, ...], prompt: str) -> UserPromptOutcome:
    blockers = [r for r in runs if r.effect.block]
    return UserPromptOutcome(
        runs=runs,
        blocked=bool(blockers),
        reason=_join([r.effect.reason for r in blockers if r.effect.reason]),
        additional_contexts=_contexts(runs),
        _prompt=prompt,
    )


def fold_stop(runs: tuple[HookRun, ...]) -> StopOutcome:
    stop, stop_reason = _first_stop(runs)
    if stop:
        return StopOutcome(runs=runs, stop=True, stop_reason=stop_reason)
    reasons = [r.effect.reason for r in runs if r.effect.block and r.effect.reason]
    return StopOutcome(runs=runs, continuation=_join(reasons))


def fold_session_start(runs: tuple[HookRun, ...]) -> SessionStartOutcome:
    env: dict[str, str] = {}
    for run in runs:
        env.update(dict(run.effect.env))
    stop, stop_reason = _first_stop(runs)
    return SessionStartOutcome(
        runs=runs, additional_contexts=_contexts(runs), env=env, stop=stop, stop_reason=stop_reason
    )


def fold_simple(runs: tuple[HookRun, ...]) -> EventOutcome:
    return EventOutcome(runs=runs)
