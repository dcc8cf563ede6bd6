"""Value types of the telemetry API and the sink protocol the session writes to.

Kept apart from :mod:`codex_admin.telemetry.session` so callers can build a
:class:`TokenUsage` or a :class:`SessionMeta` without reading the emitters, and so the SDK sink
(:mod:`codex_admin.telemetry.otel_sdk`) depends on the protocol rather than on the session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from codex_admin.telemetry.names import Metric

__all__ = [
    "AttributeValue",
    "DecisionSource",
    "SessionMeta",
    "ShutdownReport",
    "Sink",
    "SpanHandle",
    "TokenUsage",
    "ToolDecision",
]

AttributeValue = str | int | float | bool


class DecisionSource(StrEnum):
    """Who decided a tool call (`codex.tool_decision` ``source``)."""

    CONFIG = "config"  # policy/config decided without asking (execpolicy rule, approval policy)
    USER = "user"  # the user answered an approval prompt
    AUTOMATED_REVIEWER = "automated_reviewer"  # the guardian auto-reviewer answered


class ToolDecision(StrEnum):
    """`codex.tool_decision` ``decision``: Codex's enum display form lower-cased, as its tests pin
    (its docs say ``approved_for_session``; the exported value is ``approvedforsession``)."""

    APPROVED = "approved"
    APPROVED_EXECPOLICY_AMENDMENT = "approvedexecpolicyamendment"
    APPROVED_FOR_SESSION = "approvedforsession"
    DENIED = "denied"
    ABORT = "abort"


@dataclass(frozen=True)
class TokenUsage:
    """Token counts of one response (or a sum of several)."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    tool_tokens: int = 0
    total_tokens: int | None = None  # defaults to input + output

    @property
    def total(self) -> int:
        return (
            self.total_tokens
            if self.total_tokens is not None
            else self.input_tokens + self.output_tokens
        )

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.output_tokens + other.output_tokens,
            self.reasoning_output_tokens + other.reasoning_output_tokens,
            self.tool_tokens + other.tool_tokens,
            self.total + other.total,
        )

    def by_type(self) -> dict[str, int]:
        """Values of the `token_type` tag of ``codex.turn.token_usage`` (spec §2.5)."""
        return {
            "total": self.total,
            "input": self.input_tokens,
            "cached_input": self.cached_input_tokens,
            "non_cached_input": max(self.input_tokens - self.cached_input_tokens, 0),
            "output": self.output_tokens,
            "reasoning_output": self.reasoning_output_tokens,
        }


@dataclass(frozen=True)
class SessionMeta:
    """Session metadata stamped on every event (spec §2.3 common fields) and metric (§2.5 tags).

    ``user_email`` and ``user_account_id`` go to logs only, never to traces or metric tags.
    """

    conversation_id: str = ""
    auth_mode: str = ""  # e.g. "apikey" | "chatgpt"
    model: str = ""
    slug: str = ""
    terminal_type: str = ""
    session_source: str = ""  # e.g. "cli" | "exec"
    user_account_id: str = ""
    user_email: str = ""


@dataclass(frozen=True)
class ShutdownReport:
    """What :meth:`Telemetry.shutdown` achieved. ``flushed`` is False when the bound was hit."""

    flushed: bool
    elapsed_s: float
    warnings: tuple[str, ...] = ()


class SpanHandle(Protocol):
    """A started span, as a sink returns it."""

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None: ...
    def add_event(self, name: str, attributes: Mapping[str, AttributeValue]) -> None: ...
    def end(self) -> None: ...


class Sink(Protocol):
    """Where a live session sends its records (implemented over the OpenTelemetry SDK)."""

    logs: bool
    traces: bool
    metrics: bool
    flush_timeout: float  # seconds: the default bound of shutdown()

    def log(self, name: str, attributes: Mapping[str, AttributeValue]) -> None: ...
    def start_span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue],
        parent: SpanHandle | None,
    ) -> SpanHandle: ...
    def add(self, metric: Metric, value: int, tags: Mapping[str, str]) -> None: ...
    def record(self, metric: Metric, value: float, tags: Mapping[str, str]) -> None: ...
    def force_flush(self, timeout: float) -> bool: ...
    def shutdown(self, timeout: float) -> bool: ...
    def take_warnings(self) -> list[str]: ...
