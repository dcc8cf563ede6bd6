"""The agent core's output channel: typed thread, turn and item lifecycle events.

Front-ends (`codex exec` now; a terminal UI, an app server and an MCP server later) only consume
these and send submissions; nothing in the core prints. The JSON shapes are exactly `codex exec
--json`'s (spec runtime §2.1), plus what Codex's users asked for:

* every event of a turn carries ``turn_id``;
* every ``item.started`` gets exactly one terminal ``item.completed`` -- an item still open at
  turn end or interrupt is completed as ``failed`` (commands) rather than left dangling;
* non-fatal warnings (requirement fallbacks, untrusted hooks, retries) are ``error`` items, so
  CI logs show them.

This module holds the thread and turn events (and a turn's :class:`Usage`); the items a turn
produces and their ``item.*`` events are in :mod:`.items`, which loads with the first response,
tool call or warning rather than at start-up (issue 14: `codex exec`'s cold start to its first
model request; pinned in tests/test_structure.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ErrorEvent",
    "Event",
    "ThreadStarted",
    "TurnCompleted",
    "TurnFailed",
    "TurnStarted",
    "Usage",
]


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
