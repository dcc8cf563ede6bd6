"""Event and metric names, and the metric name/tag rules of Codex (spec §2.4, §2.5).

Metric names must be non-empty ``[A-Za-z0-9._-]``; tag keys non-empty ``[A-Za-z0-9._/-]`` and not
``le`` (reserved for histogram buckets). Tag *values* come from the run (tool names, models, MCP
servers), so they are sanitised rather than rejected: invalid characters become ``_``, leading and
trailing ``_`` are trimmed, a value that is empty or only punctuation becomes ``unspecified``, and
at most 256 characters are kept. Names and keys are ours, so a bad one is a programming error
(:class:`ValueError`).
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = [
    "MAX_TAG_VALUE",
    "METRICS",
    "UNSPECIFIED",
    "Event",
    "Metric",
    "MetricKind",
    "sanitize_tag_value",
    "validate_metric_name",
    "validate_tag_key",
]

MAX_TAG_VALUE = 256
UNSPECIFIED = "unspecified"

_METRIC_NAME = re.compile(r"^[A-Za-z0-9._\-]+$")
_TAG_KEY = re.compile(r"^[A-Za-z0-9._/\-]+$")
_TAG_INVALID = re.compile(r"[^A-Za-z0-9._/\-]")
_PUNCTUATION = frozenset("._/-")


class Event(StrEnum):
    """The exported event names (log record `event.name`, span event name)."""

    CONVERSATION_STARTS = "codex.conversation_starts"
    API_REQUEST = "codex.api_request"
    SSE_EVENT = "codex.sse_event"
    USER_PROMPT = "codex.user_prompt"
    TOOL_DECISION = "codex.tool_decision"
    TOOL_RESULT = "codex.tool_result"
    SANDBOX_OUTCOME = "codex.sandbox_outcome"
    NETWORK_POLICY_DECISION = "codex.network_proxy.policy_decision"
    # This product's own governance events.
    EXECPOLICY_DECISION = "codex.execpolicy.decision"
    REQUIREMENTS_FALLBACK = "codex.requirements.fallback"
    GUARDIAN_REVIEW = "codex.guardian.review"
    HOOK_RUN = "codex.hook.run"


class MetricKind(StrEnum):
    COUNTER = "counter"
    HISTOGRAM = "histogram"


class Metric(StrEnum):
    """Every metric this package records (counters unless the name ends in a duration)."""

    THREAD_STARTED = "codex.thread.started"
    TOOL_CALL = "codex.tool.call"
    TOOL_CALL_DURATION = "codex.tool.call.duration_ms"
    API_REQUEST = "codex.api_request"
    API_REQUEST_DURATION = "codex.api_request.duration_ms"
    SSE_EVENT = "codex.sse_event"
    SSE_EVENT_DURATION = "codex.sse_event.duration_ms"
    TURN_E2E_DURATION = "codex.turn.e2e_duration_ms"
    TURN_TTFT_DURATION = "codex.turn.ttft.duration_ms"
    TURN_TTFM_DURATION = "codex.turn.ttfm.duration_ms"
    TURN_TOOL_CALL = "codex.turn.tool.call"
    TURN_TOKEN_USAGE = "codex.turn.token_usage"
    TURN_NETWORK_PROXY = "codex.turn.network_proxy"
    GUARDIAN_REVIEW = "codex.guardian.review"
    GUARDIAN_REVIEW_DURATION = "codex.guardian.review.duration_ms"
    GUARDIAN_REVIEW_TTFT_DURATION = "codex.guardian.review.ttft.duration_ms"
    GUARDIAN_REVIEW_TOKEN_USAGE = "codex.guardian.review.token_usage"
    # This product's own.
    SANDBOX_OUTCOME = "codex.sandbox.outcome"
    EXECPOLICY_DECISION = "codex.execpolicy.decision"
    REQUIREMENTS_FALLBACK = "codex.requirements.fallback"
    HOOK_RUN = "codex.hook.run"
    HOOK_RUN_DURATION = "codex.hook.run.duration_ms"

    @property
    def kind(self) -> MetricKind:
        return MetricKind.HISTOGRAM if self.value.endswith("duration_ms") else MetricKind.COUNTER

    @property
    def unit(self) -> str:
        if self.kind is MetricKind.HISTOGRAM:
            return "ms"
        return "{token}" if self.value.endswith("token_usage") else "1"


METRICS: tuple[Metric, ...] = tuple(Metric)


def validate_metric_name(name: str) -> str:
    """``name`` if it is a valid metric name, else :class:`ValueError`."""
    if not _METRIC_NAME.match(name):
        raise ValueError(f"invalid metric name {name!r}: use [A-Za-z0-9._-]")
    return name


def validate_tag_key(key: str) -> str:
    """``key`` if it is a valid tag key, else :class:`ValueError`."""
    if not _TAG_KEY.match(key):
        raise ValueError(f"invalid metric tag key {key!r}: use [A-Za-z0-9._/-]")
    if key == "le":
        raise ValueError("metric tag key `le` is reserved for histogram buckets")
    return key


def sanitize_tag_value(value: object) -> str:
    """A tag value as Codex exports it (see the module docstring for the rules)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = _TAG_INVALID.sub("_", str(value)).strip("_")[:MAX_TAG_VALUE]
    if not text or all(ch in _PUNCTUATION for ch in text):
        return UNSPECIFIED
    return text
