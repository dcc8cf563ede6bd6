"""The governed agent: a session runs turns and emits typed events; front-ends only render.

Module map:

* :mod:`.events` -- thread / turn / item lifecycle events (the JSON of `codex exec --json`);
* :mod:`.submissions` -- what a front-end may send: user input, interrupt, approval answers;
* :mod:`.session` -- :class:`Session`, the turn loop;
* :mod:`.context` -- the injected context (base instructions, permissions, AGENTS.md,
  environment);
* :mod:`.tools` -- the tool registry and the shell, apply_patch and plan tools;
* :mod:`.execution` -- one governed command: rules → approval → sandbox → result;
* :mod:`.approvals` -- approval requests and the :class:`Reviewer` protocol;
* :mod:`.output` -- head+tail truncation of command output for the model;
* :mod:`.rollout` -- JSONL session records (0600, redacted) and resuming;
* :mod:`.compaction` -- auto-compaction of a long history;
* :mod:`.observability` -- the one translation into telemetry (spans, events, metrics of every
  governance decision; a no-op without `[otel]`);
* :mod:`.bootstrap` -- :func:`open_session`, the one entry point a front-end calls.

Nothing in this package prints.
"""

from codex_admin.agent.approvals import (
    ApprovalRequest,
    DecisionSource,
    NetworkApproval,
    PatchApproval,
    RefusingReviewer,
    Review,
    ReviewContext,
    ReviewDecision,
    Reviewer,
    ShellApproval,
)
from codex_admin.agent.events import (
    AgentMessageItem,
    CommandExecutionItem,
    ErrorEvent,
    ErrorItem,
    Event,
    FileChange,
    FileChangeItem,
    Item,
    ItemCompleted,
    ItemStarted,
    ItemStatus,
    ItemUpdated,
    ReasoningItem,
    ThreadStarted,
    TodoEntry,
    TodoListItem,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
)
from codex_admin.agent.submissions import (
    ApprovalAnswer,
    ApprovalRequested,
    Interrupt,
    Shutdown,
    Submission,
    UserInput,
)

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
