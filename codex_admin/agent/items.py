"""What a turn produces, as the user sees it: items and their ``item.*`` lifecycle events.

Items -- the agent's messages, reasoning, commands, file changes, the plan, warnings -- are
mutable while in progress (the core updates ``aggregated_output``, ``status``, …) and frozen
into JSON whenever an event is emitted: :meth:`Item.started`, :meth:`Item.updated` and
:meth:`Item.completed` make the event from the item as it is at that moment. Every
``item.started`` gets exactly one terminal ``item.completed``; an item still open when its turn
ends is :meth:`Item.abandon`-ed first (:class:`~.turn_context.TurnContext` sees to both).

Apart from the thread and turn events (:mod:`.events`) because nothing here is needed before the
first model request: this module loads with the first response, tool call or warning, so
`codex exec`'s cold start does not create its classes (issue 14; pinned in
tests/test_structure.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from codex_admin.agent.events import Event

__all__ = [
    "AgentMessageItem",
    "CommandExecutionItem",
    "ErrorItem",
    "FileChange",
    "FileChangeItem",
    "Item",
    "ItemCompleted",
    "ItemStarted",
    "ItemStatus",
    "ItemUpdated",
    "ReasoningItem",
    "TodoEntry",
    "TodoListItem",
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

    def started(self, turn_id: str | None) -> ItemStarted:
        """``item.started`` with the item as it is now."""
        return ItemStarted(turn_id, self.to_json())

    def updated(self, turn_id: str | None) -> ItemUpdated:
        """``item.updated`` with the item as it is now."""
        return ItemUpdated(turn_id, self.to_json())

    def completed(self, turn_id: str | None) -> ItemCompleted:
        """``item.completed`` with the item as it is now (its terminal event)."""
        return ItemCompleted(turn_id, self.to_json())

    def abandon(self) -> None:
        """The turn ended with this item still open. Only commands and patches change: one
        still in progress ends ``failed``, never ``completed``."""


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

    def abandon(self) -> None:
        if self.status is ItemStatus.IN_PROGRESS:
            self.status = ItemStatus.FAILED


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

    def abandon(self) -> None:
        if self.status is ItemStatus.IN_PROGRESS:
            self.status = ItemStatus.FAILED


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
