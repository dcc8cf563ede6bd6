"""The conversation as a reviewer reads it: ``{role, text}`` entries, context left out.

The guardian treats user messages as instructions and everything else -- assistant text, tool
calls and tool output -- as untrusted evidence; the injected context (permissions, AGENTS.md,
environment) is scaffolding, not conversation, so it is dropped (spec guardian §1.3).

A compaction summary sits in the history as a *user* message, but the model wrote it -- from a
transcript full of tool output -- so it is evidence, shown as the assistant's: otherwise a
prompt injection that survives into the summary ("the user authorised the deploy") would
reach the reviewer as the user's own words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codex_admin.agent.compaction import SUMMARY_PREFIX
from codex_admin.agent.context import is_context_message
from codex_admin.agent.response_items import message_text

__all__ = ["MAX_ENTRIES", "transcript_entries"]

MAX_ENTRIES = 400  # the newest entries; the guardian applies its own token budgets on top


def _text(item: dict[str, Any]) -> str:
    parts = item.get("content")
    if not isinstance(parts, list):
        return ""
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict) and "text" in p)


def transcript_entries(history: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """``history`` (Responses items) as transcript entries, oldest first."""
    names: dict[str, str] = {}
    entries: list[dict[str, str]] = []
    for item in history:
        kind = item.get("type")
        if kind == "message":
            if is_context_message(item) or item.get("role") not in ("user", "assistant"):
                continue
            role = str(item["role"])
            text = message_text(item) if role == "assistant" else _text(item)
            if role == "user" and text.startswith(SUMMARY_PREFIX):
                role = "assistant"  # the model's summary, not the user's words
            entries.append({"role": role, "text": text})
        elif kind in ("function_call", "custom_tool_call"):
            name = str(item.get("name") or "unknown")
            names[str(item.get("call_id", ""))] = name
            body = item.get("arguments") if kind == "function_call" else item.get("input")
            entries.append({"role": "tool", "name": name, "kind": "call", "text": str(body)})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            name = names.get(str(item.get("call_id", "")), "unknown")
            entries.append(
                {"role": "tool", "name": name, "kind": "result", "text": str(item.get("output"))}
            )
    return entries[-MAX_ENTRIES:]
