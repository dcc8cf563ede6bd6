"""Reading Responses API items (plain dicts) the way the loop and the front-ends need."""

from __future__ import annotations

from typing import Any

__all__ = ["message_text", "reasoning_text"]


def message_text(item: dict[str, Any]) -> str:
    """The text of an assistant ``message`` item (its ``output_text`` parts, joined)."""
    parts = item.get("content")
    if not isinstance(parts, list):
        return ""
    return "".join(
        str(part.get("text", ""))
        for part in parts
        if isinstance(part, dict) and part.get("type") in ("output_text", "text")
    )


def reasoning_text(item: dict[str, Any]) -> str:
    """The summary text of a ``reasoning`` item (empty summaries are dropped, as in Codex)."""
    summary = item.get("summary")
    if not isinstance(summary, list):
        return ""
    texts = [
        str(part.get("text", ""))
        for part in summary
        if isinstance(part, dict) and str(part.get("text", "")).strip()
    ]
    return "\n\n".join(texts)
