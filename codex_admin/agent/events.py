"""The agent core's output channel: typed thread, turn and item lifecycle events.

Front-ends (`codex exec` now; a terminal UI, an app server and an MCP server later) only consume
these and send submissions; nothing in the core prints. The JSON shapes are exactly `codex exec
--json`'s (spec runtime §2.1), plus what Codex's users asked for:

* every event of a turn carries ``turn_id``;
* every ``item.started`` gets exactly one terminal ``item.completed`` -- an item still open at
  turn end or interrupt is completed as ``failed`` (commands) rather than left dangling;
* non-fatal warnings (requirement fallbacks, untrusted hooks, retries) are ``error`` items, so
  CI logs show them.

Items are mutable while in progress (the core updates ``aggregated_output``, ``status``, …) and
frozen into JSON by :meth:`Item.to_json` whenever an event is emitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "AgentMessageItem",
    "CommandExecutionItem",
    "ErrorEvent",
    "ErrorItem",
    "Event",
    "FileChange",
    "FileChangeItem",
    "Item",
    "ItemCompleted",
    "ItemStarted",
    "ItemStatus",
    "ItemUpdated",
    "ReasoningItem",
    "ThreadStarted",
    "TodoEntry",
    "TodoListItem",
    "TurnCompleted",
    "TurnFailed",
    "TurnStarted",
    "Usage",
]


class ItemStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    DECLINED = "declined"


@dataclass
class Item:
    """Base of the things a turn produces; ``id`` is ``item_<n>``, unique in the thread."""

    id: str

    type: str = field(init=False, default="")

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, **self._fields()}

    def _fields(self) -> dict[str, Any]:
        return {}


@dataclass
class AgentMessageItem(Item):
    """Text the model wrote for the user (``agent_message``)."""

    text: str = ""
    type: str = field(init=False, default="agent_message")

    def _fields(self) -> dict[str, Any]:
        return {"text": self.text}


@dataclass
class ReasoningItem(Item):
    """The model's reasoning summary or text, as shown (``reasoning``)."""

    text: str = ""
    type: str = field(init=False, default="reasoning")

    def _fields(self) -> dict[str, Any]:
        return {"text": self.text}


@dataclass
class CommandExecutionItem(Item):
    """A shell command: its text, output so far, exit code and status."""

    command: str = ""
    aggregated_output: str = ""
    exit_code: int | None = None
    status: ItemStatus = ItemStatus.IN_PROGRESS
    type: str = field(init=False, default="command_execution")

    def _fields(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "aggregated_output": self.aggregated_output,
            "exit_code": self.exit_code,
            "status": self.status.value,
        }


@dataclass(frozen=True)
class FileChange:
    """One file a patch adds, deletes or updates, with its diff when known."""

    path: str
    kind: str  # add | delete | update
    diff: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "kind": self.kind}
        if self.diff is not None:
            data["diff"] = self.diff
        return data


@dataclass
class FileChangeItem(Item):
    """An apply_patch call: the files it changes and whether it was applied."""

    changes: list[FileChange] = field(default_factory=list)
    status: ItemStatus = ItemStatus.IN_PROGRESS
    type: str = field(init=False, default="file_change")

    def _fields(self) -> dict[str, Any]:
        return {"changes": [c.to_json() for c in self.changes], "status": self.status.value}


@dataclass
class TodoEntry:
    """One step of the model's plan."""

    text: str
    completed: bool

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "completed": self.completed}


@dataclass
class TodoListItem(Item):
    """The model's plan (``update_plan``), as a checklist."""

    items: list[TodoEntry] = field(default_factory=list)
    type: str = field(init=False, default="todo_list")

    def _fields(self) -> dict[str, Any]:
        return {"items": [entry.to_json() for entry in self.items]}


@dataclass
class ErrorItem(Item):
    """A non-fatal problem shown to the user (warnings, fallbacks, untrusted hooks)."""

    message: str = ""
    type: str = field(init=False, default="error")

    def _fields(self) -> dict[str, Any]:
        return {"message": self.message}


@dataclass(frozen=True)
class Usage:
    """Token counts of a turn, summed over its model requests."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    cache_write_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.output_tokens + other.output_tokens,
            self.reasoning_output_tokens + other.reasoning_output_tokens,
            self.cache_write_input_tokens + other.cache_write_input_tokens,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_json(self) -> dict[str, Any]:
        return {  # the key order of Codex 0.169's `turn.completed`
            "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "cache_write_input_tokens": self.cache_write_input_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_output_tokens": self.reasoning_output_tokens,
        }


# ------------------------------------------------------------------------------------ events


@dataclass(frozen=True)
class Event:
    """Base of every event; ``turn_id`` is None only for thread-level events."""

    turn_id: str | None

    type: str = field(init=False, default="")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        data.update(self._fields())
        if self.turn_id is not None:
            data["turn_id"] = self.turn_id
        return data

    def _fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class ThreadStarted(Event):
    """The session's first event: its thread id."""

    thread_id: str = ""
    type: str = field(init=False, default="thread.started")

    def _fields(self) -> dict[str, Any]:
        return {"thread_id": self.thread_id}


@dataclass(frozen=True)
class TurnStarted(Event):
    """A turn began (the user's input was accepted)."""

    type: str = field(init=False, default="turn.started")


@dataclass(frozen=True)
class TurnCompleted(Event):
    """A turn ended normally; ``last_agent_message`` is its final answer."""

    usage: Usage = field(default_factory=Usage)
    last_agent_message: str | None = None
    type: str = field(init=False, default="turn.completed")

    def _fields(self) -> dict[str, Any]:
        return {"usage": self.usage.to_json()}


@dataclass(frozen=True)
class TurnFailed(Event):
    """A turn ended with an error or an interrupt."""

    message: str = ""
    interrupted: bool = False
    type: str = field(init=False, default="turn.failed")

    def _fields(self) -> dict[str, Any]:
        return {"error": {"message": self.message}}


@dataclass(frozen=True)
class ErrorEvent(Event):
    """An unrecoverable error of the turn (precedes ``turn.failed``)."""

    message: str = ""
    type: str = field(init=False, default="error")

    def _fields(self) -> dict[str, Any]:
        return {"message": self.message}


@dataclass(frozen=True)
class _ItemEvent(Event):
    """An item lifecycle event: ``item`` is the item's JSON at that moment."""

    item: dict[str, Any] = field(default_factory=dict)

    def _fields(self) -> dict[str, Any]:
        return {"item": self.item}


@dataclass(frozen=True)
class ItemStarted(_ItemEvent):
    """An item began (commands, patches, plans)."""

    type: str = field(init=False, default="item.started")


@dataclass(frozen=True)
class ItemUpdated(_ItemEvent):
    """An item in progress changed (a plan's steps)."""

    type: str = field(init=False, default="item.updated")


@dataclass(frozen=True)
class ItemCompleted(_ItemEvent):
    """An item reached its terminal status (exactly once per item)."""

    type: str = field(init=False, default="item.completed")
