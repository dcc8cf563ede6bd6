"""The governed agent: a session runs turns and emits typed events; front-ends only render.

Module map:

* :mod:`.events` -- thread and turn lifecycle events (the JSON of `codex exec --json`);
* :mod:`.items` -- the items a turn produces and their ``item.*`` events;
* :mod:`.submissions` -- what a front-end may send: user input, interrupt, approval answers;
* :mod:`.session` -- :class:`Session`, the turn loop;
* :mod:`.context` -- the injected context (base instructions, permissions, AGENTS.md,
  environment);
* :mod:`.tools` -- the tool registry and the shell, apply_patch and plan tools;
* :mod:`.execution` -- one governed command: rules → approval → sandbox → result;
* :mod:`.approvals` -- approval requests (what a reviewer is asked);
* :mod:`.reviewers` -- the :class:`Reviewer` protocol, its answers and the refusing reviewer;
* :mod:`.output` -- head+tail truncation of command output for the model;
* :mod:`.rollout` -- JSONL session records (0600, redacted) and resuming;
* :mod:`.compaction` -- auto-compaction of a long history;
* :mod:`.observability` -- the one translation into telemetry (spans, events, metrics of every
  governance decision; a no-op without `[otel]`);
* :mod:`.bootstrap` -- :func:`open_session`, the one entry point a front-end calls.

Nothing in this package prints. Names are resolved lazily (PEP 562): a front-end importing
:func:`~.bootstrap.open_session` does not create the item and approval-request classes, which
nothing needs before the first model request (start-up).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_admin.lazy_exports import lazy_exports

if TYPE_CHECKING:
    # Names for readers and mypy only: at run time each resolves through _EXPORTS on first
    # use (lazy_exports), so importing the package loads none of these modules (start-up).
    from codex_admin.agent.approvals import (
        ApprovalRequest,
        NetworkApproval,
        PatchApproval,
        ReviewContext,
        ShellApproval,
    )
    from codex_admin.agent.events import (
        ErrorEvent,
        Event,
        ThreadStarted,
        TurnCompleted,
        TurnFailed,
        TurnStarted,
        Usage,
    )
    from codex_admin.agent.items import (
        AgentMessageItem,
        CommandExecutionItem,
        ErrorItem,
        FileChange,
        FileChangeItem,
        Item,
        ItemCompleted,
        ItemStarted,
        ItemStatus,
        ItemUpdated,
        ReasoningItem,
        TodoEntry,
        TodoListItem,
    )
    from codex_admin.agent.reviewers import (
        DecisionSource,
        RefusingReviewer,
        Review,
        ReviewDecision,
        Reviewer,
    )
    from codex_admin.agent.submissions import (
        ApprovalAnswer,
        ApprovalRequested,
        Interrupt,
        Shutdown,
        Submission,
        UserInput,
    )

_EXPORTS: dict[str, str] = {
    "ApprovalRequest": "codex_admin.agent.approvals",
    "DecisionSource": "codex_admin.agent.reviewers",
    "NetworkApproval": "codex_admin.agent.approvals",
    "PatchApproval": "codex_admin.agent.approvals",
    "RefusingReviewer": "codex_admin.agent.reviewers",
    "Review": "codex_admin.agent.reviewers",
    "ReviewContext": "codex_admin.agent.approvals",
    "ReviewDecision": "codex_admin.agent.reviewers",
    "Reviewer": "codex_admin.agent.reviewers",
    "ShellApproval": "codex_admin.agent.approvals",
    "ErrorEvent": "codex_admin.agent.events",
    "Event": "codex_admin.agent.events",
    "ThreadStarted": "codex_admin.agent.events",
    "TurnCompleted": "codex_admin.agent.events",
    "TurnFailed": "codex_admin.agent.events",
    "TurnStarted": "codex_admin.agent.events",
    "Usage": "codex_admin.agent.events",
    "AgentMessageItem": "codex_admin.agent.items",
    "CommandExecutionItem": "codex_admin.agent.items",
    "ErrorItem": "codex_admin.agent.items",
    "FileChange": "codex_admin.agent.items",
    "FileChangeItem": "codex_admin.agent.items",
    "Item": "codex_admin.agent.items",
    "ItemCompleted": "codex_admin.agent.items",
    "ItemStarted": "codex_admin.agent.items",
    "ItemStatus": "codex_admin.agent.items",
    "ItemUpdated": "codex_admin.agent.items",
    "ReasoningItem": "codex_admin.agent.items",
    "TodoEntry": "codex_admin.agent.items",
    "TodoListItem": "codex_admin.agent.items",
    "ApprovalAnswer": "codex_admin.agent.submissions",
    "ApprovalRequested": "codex_admin.agent.submissions",
    "Interrupt": "codex_admin.agent.submissions",
    "Shutdown": "codex_admin.agent.submissions",
    "Submission": "codex_admin.agent.submissions",
    "UserInput": "codex_admin.agent.submissions",
}

__all__ = [
    "AgentMessageItem",
    "ApprovalAnswer",
    "ApprovalRequest",
    "ApprovalRequested",
    "CommandExecutionItem",
    "DecisionSource",
    "ErrorEvent",
    "ErrorItem",
    "Event",
    "FileChange",
    "FileChangeItem",
    "Interrupt",
    "Item",
    "ItemCompleted",
    "ItemStarted",
    "ItemStatus",
    "ItemUpdated",
    "NetworkApproval",
    "PatchApproval",
    "ReasoningItem",
    "RefusingReviewer",
    "Review",
    "ReviewContext",
    "ReviewDecision",
    "Reviewer",
    "ShellApproval",
    "Shutdown",
    "Submission",
    "ThreadStarted",
    "TodoEntry",
    "TodoListItem",
    "TurnCompleted",
    "TurnFailed",
    "TurnStarted",
    "Usage",
    "UserInput",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
