"""The typed events :meth:`ModelClient.stream` yields, the same for the Responses and Chat wires.

Order within one attempt: ``RateLimits``? ``Created`` (``OutputItemAdded`` | deltas |
``OutputItemDone``)* ``Completed``. ``OutputItemDone.item`` is authoritative (a Responses item
dict: ``message``, ``reasoning``, ``function_call``, ``custom_tool_call``, ``local_shell_call``,
``web_search_call``, ...); deltas are for live display only.

``Retrying`` announces that the attempt failed with a retryable error and another one follows
after ``delay`` seconds: everything the failed attempt yielded is void, and the next attempt
starts again from ``Created``. Front-ends print :attr:`Retrying.message`
("Reconnecting... 2/5"). ``scope`` says whether the HTTP request was retried before any event
(``request``: 5xx, connection errors) or the stream was (``stream``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "Completed",
    "Created",
    "OutputItemAdded",
    "OutputItemDone",
    "OutputTextDelta",
    "RateLimitSnapshot",
    "RateLimitWindow",
    "RateLimits",
    "ReasoningSummaryDelta",
    "ReasoningSummaryPartAdded",
    "ReasoningTextDelta",
    "ResponseEvent",
    "Retrying",
    "TokenUsage",
]


@dataclass(frozen=True)
class TokenUsage:
    """Token counts a provider reported for one response."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def from_responses(cls, usage: Any) -> TokenUsage | None:
        """From a Responses ``usage`` object (or a Chat one: prompt/completion tokens)."""
        if not isinstance(usage, dict):
            return None

        def num(source: Any, *keys: str) -> int:
            for key in keys:
                value = source.get(key) if isinstance(source, dict) else None
                if isinstance(value, int) and not isinstance(value, bool):
                    return value
            return 0

        input_details = usage.get("input_tokens_details") or usage.get("prompt_tokens_details")
        output_details = usage.get("output_tokens_details") or usage.get(
            "completion_tokens_details"
        )
        inp = num(usage, "input_tokens", "prompt_tokens")
        out = num(usage, "output_tokens", "completion_tokens")
        return cls(
            input_tokens=inp,
            cached_input_tokens=num(input_details, "cached_tokens"),
            output_tokens=out,
            reasoning_output_tokens=num(output_details, "reasoning_tokens"),
            total_tokens=num(usage, "total_tokens") or inp + out,
        )

    def to_json(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_output_tokens": self.reasoning_output_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class RateLimitWindow:
    """One rate-limit window of a provider's headers."""

    used_percent: float
    window_minutes: int | None = None
    resets_at: int | None = None  # unix seconds


@dataclass(frozen=True)
class RateLimitSnapshot:
    """The primary and secondary rate-limit windows of a response."""

    primary: RateLimitWindow | None = None
    secondary: RateLimitWindow | None = None


@dataclass(frozen=True)
class Created:
    """The response was created (its id, when the wire has one)."""

    type: ClassVar[str] = "created"
    response_id: str | None = None


@dataclass(frozen=True)
class OutputItemAdded:
    """An output item started streaming."""

    type: ClassVar[str] = "output_item.added"
    item: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputTextDelta:
    """A piece of assistant text."""

    type: ClassVar[str] = "output_text.delta"
    delta: str = ""
    item_id: str | None = None


@dataclass(frozen=True)
class ReasoningSummaryDelta:
    """A piece of a reasoning summary."""

    type: ClassVar[str] = "reasoning_summary.delta"
    delta: str = ""
    summary_index: int = 0
    item_id: str | None = None


@dataclass(frozen=True)
class ReasoningSummaryPartAdded:
    """A new reasoning summary part began."""

    type: ClassVar[str] = "reasoning_summary_part.added"
    summary_index: int = 0
    item_id: str | None = None


@dataclass(frozen=True)
class ReasoningTextDelta:
    """A piece of raw reasoning text."""

    type: ClassVar[str] = "reasoning_text.delta"
    delta: str = ""
    content_index: int = 0
    item_id: str | None = None


@dataclass(frozen=True)
class OutputItemDone:
    """An output item is complete: the authoritative item."""

    type: ClassVar[str] = "output_item.done"
    item: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Completed:
    """The response completed (its id and usage); the stream ends here."""

    type: ClassVar[str] = "completed"
    response_id: str = ""
    usage: TokenUsage | None = None


@dataclass(frozen=True)
class RateLimits:
    """Rate limits the response's headers announced."""

    type: ClassVar[str] = "rate_limits"
    snapshot: RateLimitSnapshot = field(default_factory=RateLimitSnapshot)


@dataclass(frozen=True)
class Retrying:
    """The client is about to retry after a failed attempt (and waits ``delay``)."""

    type: ClassVar[str] = "retrying"
    attempt: int = 1
    max_attempts: int = 1
    delay: float = 0.0
    reason: str = ""
    kind: str = "stream"  # the ErrorKind value of the error being retried
    scope: str = "stream"  # "request" (HTTP retried before any event) | "stream"

    @property
    def message(self) -> str:
        return f"Reconnecting... {self.attempt}/{self.max_attempts}"


ResponseEvent = (
    Created
    | OutputItemAdded
    | OutputTextDelta
    | ReasoningSummaryDelta
    | ReasoningSummaryPartAdded
    | ReasoningTextDelta
    | OutputItemDone
    | Completed
    | RateLimits
    | Retrying
)
