"""Auto-compaction (spec runtime §3.4), done locally for every provider.

When the context reaches ``model_auto_compact_token_limit`` (tokens estimated at 4 bytes each,
or the provider's own count when larger), a summarisation request replaces the history with:
the session's context messages, up to ~20,000 tokens of the most recent real user messages, and
one user message carrying a summary prefix and the model's summary. Mid-turn, the context goes
just before the last real user message so the model keeps working on it. If the summarisation
request itself overflows, the oldest items are dropped one at a time and it is retried. Each
compaction is recorded in the rollout as a ``compacted`` item with the replacement history.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from codex_admin.agent.context import is_context_message, user_message
from codex_admin.agent.response_items import message_text

__all__ = [
    "REPEATED_COMPACTION_WARNING",
    "SUMMARY_PREFIX",
    "build_compacted_history",
    "estimate_tokens",
    "real_user_messages",
]

BYTES_PER_TOKEN = 4
USER_MESSAGES_BUDGET_TOKENS = 20_000
SUMMARY_PREFIX = (
    "The conversation so far was compacted to stay within the model's context window. "
    "Another run of the model wrote the handoff summary below; build on it and avoid redoing "
    "finished work:"
)
REPEATED_COMPACTION_WARNING = (
    "Heads up: long conversations and repeated compactions can make the model less accurate. "
    "Start a new session when possible to keep sessions small and focused."
)


def estimate_tokens(items: Sequence[dict[str, Any]]) -> int:
    """A provider-independent size of the history: 4 bytes of JSON per token."""
    size = sum(len(json.dumps(item, ensure_ascii=False).encode("utf-8")) for item in items)
    return size // BYTES_PER_TOKEN


def real_user_messages(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """User messages that the user wrote (not injected context, not earlier summaries)."""
    return [
        item
        for item in items
        if item.get("type") == "message"
        and item.get("role") == "user"
        and not is_context_message(item)
        and not _user_text(item).startswith(SUMMARY_PREFIX)
    ]


def _user_text(item: dict[str, Any]) -> str:
    parts = item.get("content")
    if not isinstance(parts, list):
        return ""
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


def _recent_within_budget(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    budget = USER_MESSAGES_BUDGET_TOKENS
    for message in reversed(messages):
        cost = estimate_tokens([message])
        if cost > budget:
            break
        kept.append(message)
        budget -= cost
    kept.reverse()
    return kept


def build_compacted_history(
    history: Sequence[dict[str, Any]],
    context: Sequence[dict[str, Any]],
    summary: str,
    *,
    mid_turn: bool,
) -> list[dict[str, Any]]:
    """The replacement history after a compaction whose model reply was ``summary``."""
    users = _recent_within_budget(real_user_messages(history))
    summary_message = user_message(f"{SUMMARY_PREFIX}\n\n{summary}")
    if mid_turn and users:
        return [*users[:-1], *context, users[-1], summary_message]
    return [*context, *users, summary_message]


def summary_from_items(items: Sequence[dict[str, Any]]) -> str:
    """The last assistant text of the summarisation response."""
    texts = [
        message_text(item)
        for item in items
        if item.get("type") == "message" and item.get("role") == "assistant"
    ]
    return texts[-1].strip() if texts else ""
