"""The words every package uses for the same policy concepts, defined once.

A leaf module (imports nothing of ours), so config, execpolicy, sandbox, proxy, governance, the
agent and the CLI can all share it without bending the dependency DAG. The values are Codex's
spellings, exactly as they appear in `config.toml`, `requirements.toml`, flags and JSON output.

``external-sandbox`` is Codex's name for "a sandbox outside Codex confines the command" (it is
programmatic only: requirements may list it, `-s` does not accept it). Older code here said
``external``; that spelling is accepted on input by :meth:`SandboxMode.parse` and never produced.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ApprovalPolicy",
    "ApprovalsReviewer",
    "HookEventName",
    "NetworkMode",
    "SandboxMode",
    "SandboxPermissions",
    "WebSearchMode",
]


class SandboxMode(StrEnum):
    """How much of the filesystem (and network) a model-written command may touch."""

    READ_ONLY = "read-only"
    WORKSPACE_WRITE = "workspace-write"
    DANGER_FULL_ACCESS = "danger-full-access"
    EXTERNAL_SANDBOX = "external-sandbox"

    @classmethod
    def cli_choices(cls) -> tuple[SandboxMode, ...]:
        """The modes `-s/--sandbox` and `sandbox_mode` accept (external is programmatic only)."""
        return (cls.READ_ONLY, cls.WORKSPACE_WRITE, cls.DANGER_FULL_ACCESS)

    @classmethod
    def parse(cls, text: str) -> SandboxMode:
        """``text`` as a mode; accepts the legacy ``external`` spelling. Raises ValueError."""
        return cls.EXTERNAL_SANDBOX if text == "external" else cls(text)

    @property
    def restricted(self) -> bool:
        """True when our own sandbox confines the command (reads and/or writes limited)."""
        return self in (SandboxMode.READ_ONLY, SandboxMode.WORKSPACE_WRITE)

    @property
    def rank(self) -> int:
        """0 tightest .. 2 loosest; used to tell whether a change loosens policy."""
        return _SANDBOX_RANK[self]


_SANDBOX_RANK = {
    SandboxMode.READ_ONLY: 0,
    SandboxMode.WORKSPACE_WRITE: 1,
    SandboxMode.DANGER_FULL_ACCESS: 2,
    SandboxMode.EXTERNAL_SANDBOX: 2,
}


class ApprovalPolicy(StrEnum):
    """When a human (or the auto-reviewer) is asked before a command runs (spec runtime §7.1)."""

    UNTRUSTED = "untrusted"
    ON_FAILURE = "on-failure"
    ON_REQUEST = "on-request"
    NEVER = "never"

    @property
    def rank(self) -> int:
        """0 asks most .. 3 never asks; used to tell whether a change loosens policy."""
        return _APPROVAL_RANK[self]


_APPROVAL_RANK = {
    ApprovalPolicy.UNTRUSTED: 0,
    ApprovalPolicy.ON_REQUEST: 1,
    ApprovalPolicy.ON_FAILURE: 2,
    ApprovalPolicy.NEVER: 3,
}


class ApprovalsReviewer(StrEnum):
    """Who answers approval requests: the user, or the guardian auto-reviewer."""

    USER = "user"
    AUTO_REVIEW = "auto_review"
    GUARDIAN_SUBAGENT = "guardian_subagent"  # Codex's older name for AUTO_REVIEW

    @property
    def is_auto(self) -> bool:
        return self is not ApprovalsReviewer.USER


class NetworkMode(StrEnum):
    """How a sandboxed command reaches the network: not at all, only via the proxy, or freely."""

    NONE = "none"
    PROXY = "proxy"
    FULL = "full"


class SandboxPermissions(StrEnum):
    """What a shell tool call asks for (`sandbox_permissions` in the tool's arguments)."""

    USE_DEFAULT = "use_default"
    REQUIRE_ESCALATED = "require_escalated"
    WITH_ADDITIONAL_PERMISSIONS = "with_additional_permissions"


class WebSearchMode(StrEnum):
    DISABLED = "disabled"
    CACHED = "cached"
    LIVE = "live"


class HookEventName(StrEnum):
    """Lifecycle hook events, spelled as in `hooks.json`, `[hooks]` tables and hook stdin.

    The Claude-Code-compatible names Codex accepts (spec guardian_otel_hooks §3.4). Config and
    requirements validate `[hooks]` keys against this list; the hooks engine fires them.
    """

    PRE_TOOL_USE = "PreToolUse"
    PERMISSION_REQUEST = "PermissionRequest"
    POST_TOOL_USE = "PostToolUse"
    PRE_COMPACT = "PreCompact"
    POST_COMPACT = "PostCompact"
    SESSION_START = "SessionStart"
    SESSION_END = "SessionEnd"
    USER_PROMPT_SUBMIT = "UserPromptSubmit"
    SUBAGENT_START = "SubagentStart"
    SUBAGENT_STOP = "SubagentStop"
    STOP = "Stop"
