"""What discovery produces: one :class:`HookDefinition` per handler, and the :class:`HookSet`.

Everything here is plain frozen data so the agent, `codex hooks list` and `doctor` all see the
same picture: every hook in force, where it came from, whether it may run, and every problem
that kept a hook from running (reported, never skipped silently).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from codex_admin.errors import Location, location_json
from codex_admin.hooks.matcher import Matcher, MatcherKind
from codex_admin.vocabulary import HookEventName

__all__ = [
    "EVENT_LABELS",
    "FIRED_EVENTS",
    "MATCHER_EVENTS",
    "TOOL_EVENTS",
    "HookDefinition",
    "HookProblem",
    "HookSet",
    "ProblemKind",
    "SourceKind",
    "TrustStatus",
]

# The labels Codex uses in persisted hook-state keys (`<source>:<label>:<group>:<handler>`).
EVENT_LABELS: dict[HookEventName, str] = {
    HookEventName.PRE_TOOL_USE: "pre_tool_use",
    HookEventName.PERMISSION_REQUEST: "permission_request",
    HookEventName.POST_TOOL_USE: "post_tool_use",
    HookEventName.PRE_COMPACT: "pre_compact",
    HookEventName.POST_COMPACT: "post_compact",
    HookEventName.SESSION_START: "session_start",
    HookEventName.SESSION_END: "session_end",
    HookEventName.USER_PROMPT_SUBMIT: "user_prompt_submit",
    HookEventName.SUBAGENT_START: "subagent_start",
    HookEventName.SUBAGENT_STOP: "subagent_stop",
    HookEventName.STOP: "stop",
}

TOOL_EVENTS = frozenset(
    {HookEventName.PRE_TOOL_USE, HookEventName.PERMISSION_REQUEST, HookEventName.POST_TOOL_USE}
)
# Events whose matcher selects on something (tool name, session source, compaction trigger,
# agent type); the others ignore it.
MATCHER_EVENTS = TOOL_EVENTS | {
    HookEventName.SESSION_START,
    HookEventName.PRE_COMPACT,
    HookEventName.POST_COMPACT,
    HookEventName.SUBAGENT_START,
    HookEventName.SUBAGENT_STOP,
}
# Events this version fires (there are no sub-agents yet, so their hooks are listed, not run).
FIRED_EVENTS = frozenset(HookEventName) - {
    HookEventName.SUBAGENT_START,
    HookEventName.SUBAGENT_STOP,
}


class SourceKind(StrEnum):
    """Where a hook was defined. The first four are the admin's: managed, always trusted."""

    REQUIREMENTS = "requirements"  # [hooks] in requirements.toml / MDM / remote bundle
    SYSTEM = "system"  # <system dir>/hooks.json or [hooks] in <system dir>/config.toml
    MANAGED_CONFIG = "managed_config"  # [hooks] in <system dir>/managed_config.toml
    MDM = "mdm"  # [hooks] in MDM config_toml_base64
    USER = "user"  # $CODEX_HOME/hooks.json or [hooks] in $CODEX_HOME/config.toml
    PROJECT = "project"  # <dir>/.codex/hooks.json or [hooks] in its config.toml (trusted dirs)
    SESSION_FLAGS = "session_flags"  # -c hooks.<Event>=...

    @property
    def managed(self) -> bool:
        return self in (
            SourceKind.REQUIREMENTS,
            SourceKind.SYSTEM,
            SourceKind.MANAGED_CONFIG,
            SourceKind.MDM,
        )


class TrustStatus(StrEnum):
    MANAGED = "managed"  # admin hook: always trusted, cannot be disabled
    TRUSTED = "trusted"  # the stored hash matches the current definition
    UNTRUSTED = "untrusted"  # never trusted
    MODIFIED = "modified"  # trusted once, changed since

    @property
    def may_run(self) -> bool:
        return self in (TrustStatus.MANAGED, TrustStatus.TRUSTED)


class ProblemKind(StrEnum):
    INVALID_FILE = "invalid_file"  # a hooks file or table was rejected (located error)
    UNTRUSTED = "untrusted"  # a hook that needs review before it can run
    MODIFIED = "modified"  # a trusted hook that changed and needs review again
    INVALID_MATCHER = "invalid_matcher"  # a regex that does not compile: the hook never runs
    UNTRUSTED_PROJECT = "untrusted_project"  # project hooks exist but the project is untrusted
    IGNORED_SOURCE = "ignored_source"  # managed-only or features.hooks=false dropped a source


@dataclass(frozen=True)
class HookProblem:
    """Something that stops a hook from running; shown at session start, in exec and doctor."""

    kind: ProblemKind
    message: str
    location: Location | None = None
    hook_id: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return f"{text}\n  hint: {self.hint}" if self.hint else text

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "message": self.message,
            **location_json(self.location),
            "hook_id": self.hook_id,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class HookDefinition:
    """One command handler as configured, with its identity and trust state.

    ``key`` is Codex's hook-state key (``<source path>:<event label>:<group>:<handler>``);
    ``id`` is a short stable digest of it for the CLI. ``order`` is the configured order across
    all sources, which is also the order results are reported in.
    """

    key: str
    id: str
    event: HookEventName
    matcher: Matcher
    command: str
    timeout: float
    is_async: bool
    status_message: str | None
    source: SourceKind
    source_path: str
    group_index: int
    handler_index: int
    order: int
    hash: str
    trust: TrustStatus
    enabled: bool = True

    @property
    def managed(self) -> bool:
        return self.source.managed

    @property
    def runnable(self) -> bool:
        """May run: enabled, trusted (or managed), a valid matcher, and an event we fire."""
        return (
            self.enabled
            and self.trust.may_run
            and self.matcher.kind is not MatcherKind.INVALID
            and self.event in FIRED_EVENTS
        )

    def describe(self) -> str:
        """One line naming the hook for messages: event, matcher, command, source."""
        matcher = f" [{self.matcher.pattern}]" if self.matcher.pattern else ""
        return f"{self.event.value}{matcher} `{self.command}` from {self.source_path}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "event": self.event.value,
            "matcher": self.matcher.pattern,
            "matcher_error": self.matcher.error,
            "command": self.command,
            "timeout": self.timeout,
            "async": self.is_async,
            "status_message": self.status_message,
            "source": self.source.value,
            "source_path": self.source_path,
            "managed": self.managed,
            "trust": self.trust.value,
            "enabled": self.enabled,
            "runnable": self.runnable,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class HookSet:
    """Every hook in force for one working directory, and why any of them will not run.

    ``enabled`` is False when requirements pin `features.hooks = false` (nothing runs, not even
    managed hooks). ``managed_only`` reflects `allow_managed_hooks_only`.
    """

    hooks: tuple[HookDefinition, ...]
    problems: tuple[HookProblem, ...]
    warnings: tuple[str, ...]
    cwd: Path
    project_dir: Path
    codex_home: Path
    enabled: bool = True
    disabled_reason: str | None = None
    managed_only: bool = False

    @property
    def runnable(self) -> tuple[HookDefinition, ...]:
        if not self.enabled:
            return ()
        return tuple(h for h in self.hooks if h.runnable)

    @property
    def needs_review(self) -> tuple[HookDefinition, ...]:
        """Enabled non-managed hooks that are new or modified since they were trusted."""
        return tuple(
            h
            for h in self.hooks
            if h.enabled and h.trust in (TrustStatus.UNTRUSTED, TrustStatus.MODIFIED)
        )

    def review_summary(self) -> str | None:
        """Codex's one-line banner, e.g. "2 hooks need review before they can run."."""
        count = len(self.needs_review)
        if not count:
            return None
        if count == 1:
            return "1 hook needs review before it can run."
        return f"{count} hooks need review before they can run."

    def find(self, ref: str) -> HookDefinition | None:
        """The hook whose id or key is ``ref``."""
        for hook in self.hooks:
            if ref in (hook.id, hook.key):
                return hook
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
            "managed_only": self.managed_only,
            "cwd": str(self.cwd),
            "project_dir": str(self.project_dir),
            "review_summary": self.review_summary(),
            "hooks": [h.to_json() for h in self.hooks],
            "problems": [p.to_json() for p in self.problems],
            "warnings": list(self.warnings),
        }
