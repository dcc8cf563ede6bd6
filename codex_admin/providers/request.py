"""One model request, wire-neutral: what the agent loop and the guardian hand to the client.

``input`` is the conversation as Responses API items (plain dicts: ``message``,
``function_call``, ``function_call_output``, ``custom_tool_call``, ``reasoning``, ...); ``tools``
are Responses tool specs. The Responses wire sends them as they are; the Chat wire converts them
(see :mod:`.chat_wire`). ``None`` for ``store`` / ``include`` means Codex's default for the
provider: ``store`` is true only for Azure-style providers, and ``include`` asks for
``reasoning.encrypted_content`` when reasoning is on and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ModelRequest", "output_schema_format"]

OUTPUT_SCHEMA_NAME = "codex_output_schema"


def output_schema_format(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The Responses ``text.format`` for a JSON Schema (as `codex exec --output-schema` sends)."""
    return {"type": "json_schema", "name": OUTPUT_SCHEMA_NAME, "strict": True, "schema": schema}


@dataclass(frozen=True)
class ModelRequest:
    """One model request, whatever the wire: what the client sends."""

    model: str
    input: Sequence[Mapping[str, Any]]
    instructions: str = ""
    tools: Sequence[Mapping[str, Any]] = ()
    tool_choice: str | Mapping[str, Any] = "auto"
    parallel_tool_calls: bool = False
    reasoning: Mapping[str, Any] | None = None  # {"effort": ..., "summary": ...}
    store: bool | None = None
    include: Sequence[str] | None = None
    prompt_cache_key: str | None = None
    text: Mapping[str, Any] | None = None  # {"verbosity": ..., "format": output_schema_format(...)}
    service_tier: str | None = None
    session_id: str | None = None  # sent as `session-id` and `x-client-request-id`
    thread_id: str | None = None  # sent as `thread-id` (default: the session id)
    extra_headers: Mapping[str, str] = field(default_factory=dict)  # e.g. x-openai-subagent

    def responses_body(self, *, default_store: bool) -> dict[str, Any]:
        """The JSON body of POST ``{base_url}/responses`` (Codex's fields; ``instructions`` only
        when set -- Codex 0.169 carries them as a developer message instead)."""
        store = default_store if self.store is None else self.store
        include = self.include
        if include is None:
            include = ["reasoning.encrypted_content"] if self.reasoning and not store else []
        body: dict[str, Any] = {"model": self.model}
        if self.instructions:
            body["instructions"] = self.instructions
        body |= {
            "input": [dict(item) for item in self.input],
            "tools": [dict(tool) for tool in self.tools],
            "tool_choice": self.tool_choice,
            "parallel_tool_calls": self.parallel_tool_calls,
            "reasoning": dict(self.reasoning) if self.reasoning else None,
            "store": store,
            "stream": True,
            "include": list(include),
        }
        if self.prompt_cache_key is not None:
            body["prompt_cache_key"] = self.prompt_cache_key
        if self.text:
            body["text"] = dict(self.text)
        if self.service_tier is not None:
            body["service_tier"] = self.service_tier
        return body
