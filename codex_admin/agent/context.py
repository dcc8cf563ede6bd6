"""The context a session starts with, injected as Codex does (spec runtime §3.1).

* ``instructions`` (the request field): the base instructions, or the configured
  ``model_instructions_file`` / ``base_instructions`` override; the apply_patch format notes are
  appended when the patch tool is a plain function tool.
* a **developer** message: the permissions of this session (sandbox mode, network, approval
  policy) and the configured ``developer_instructions``;
* a **user** message with the AGENTS.md instructions (global first, then the project's), as
  :mod:`codex_admin.instructions` builds it (``# AGENTS.md instructions for <cwd>`` and an
  ``<INSTRUCTIONS>`` block);
* a **user** message with the ``<environment_context>``: cwd, approval policy, sandbox mode,
  network access, writable roots and shell.

These messages are re-injected after compaction. They are context, not history, so the
guardian's transcript and the compaction summary leave them out (:func:`is_context_message`).
"""

from __future__ import annotations

import os
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from codex_admin.vocabulary import ApprovalPolicy, NetworkMode, SandboxMode

__all__ = [
    "SessionContext",
    "base_instructions",
    "compact_prompt",
    "context_messages",
    "is_context_message",
    "user_message",
]

AGENTS_PREFIX = "# AGENTS.md instructions"
ENVIRONMENT_TAG = "<environment_context>"
PERMISSIONS_TAG = "<permissions instructions>"
_CONTEXT_PREFIXES = (AGENTS_PREFIX, ENVIRONMENT_TAG, PERMISSIONS_TAG, "<user_instructions>")


@cache
def _prompt(name: str) -> str:
    # pkgutil.get_data is the package loader's own read: importlib.resources would load
    # tempfile, shutil and zipfile on every start-up for one packaged text file.
    data = pkgutil.get_data("codex_admin.agent", f"prompts/{name}")
    if data is None:  # a loader without get_data: not how codex_admin is installed
        raise FileNotFoundError(f"codex_admin/agent/prompts/{name}")
    return data.decode("utf-8")


def base_instructions() -> str:
    return _prompt("base_instructions.md")


def compact_prompt() -> str:
    return _prompt("compact_prompt.md")


@dataclass(frozen=True)
class SessionContext:
    """What the context messages describe."""

    cwd: Path
    approval_policy: ApprovalPolicy
    sandbox_mode: SandboxMode
    network: NetworkMode
    writable_roots: Sequence[Path] = ()
    developer_instructions: str | None = None
    agents_message: str | None = None  # the AGENTS.md user message (codex_admin.instructions)
    shell: str | None = None


def escape(text: str) -> str:
    """XML-escape ``&``, ``<``, ``>`` (what xml.sax.saxutils.escape does, without its 18 ms
    import)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text_message(role: str, text: str) -> dict[str, Any]:
    content_type = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": content_type, "text": text}]}


def user_message(text: str) -> dict[str, Any]:
    return _text_message("user", text)


def _network_words(network: NetworkMode) -> str:
    return {
        NetworkMode.NONE: "restricted",
        NetworkMode.PROXY: "restricted to the hosts the managed network proxy allows",
        NetworkMode.FULL: "enabled",
    }[network]


def _permissions_text(ctx: SessionContext) -> str:
    sandbox = {
        SandboxMode.READ_ONLY: "The sandbox only permits reading files.",
        SandboxMode.WORKSPACE_WRITE: (
            "The sandbox permits reading files, and editing files in the working directory and "
            "the writable roots; `.git`, `.codex` and `.agents` stay read-only."
        ),
        SandboxMode.DANGER_FULL_ACCESS: "No filesystem sandboxing: all commands are permitted.",
        SandboxMode.EXTERNAL_SANDBOX: "An external sandbox confines every command.",
    }[ctx.sandbox_mode]
    approvals = {
        ApprovalPolicy.NEVER: (
            "Approval policy is currently never. Do not provide `sandbox_permissions`; requests "
            "to run outside the sandbox are rejected, and failures are returned to you."
        ),
        ApprovalPolicy.ON_REQUEST: (
            "Approval policy is currently on-request. Commands run in the sandbox; when one "
            "really needs to run outside it, set `sandbox_permissions` to `require_escalated` "
            "with a one-sentence `justification`, and a reviewer decides."
        ),
        ApprovalPolicy.ON_FAILURE: (
            "Approval policy is currently on-failure. Commands run in the sandbox; if the "
            "sandbox blocks one, a reviewer is asked whether to retry it without the sandbox."
        ),
        ApprovalPolicy.UNTRUSTED: (
            "Approval policy is currently untrusted. Only known-safe read-only commands run "
            "without asking; everything else needs approval."
        ),
    }[ctx.approval_policy]
    return (
        f"{PERMISSIONS_TAG}\nFilesystem sandboxing defines which files can be read or written. "
        f"`sandbox_mode` is `{ctx.sandbox_mode.value}`: {sandbox} Network access is "
        f"{_network_words(ctx.network)}.\n{approvals}\n</permissions instructions>"
    )


def _environment_text(ctx: SessionContext) -> str:
    shell = ctx.shell or Path(os.environ.get("SHELL") or "/bin/bash").name
    lines = [
        ENVIRONMENT_TAG,
        f"  <cwd>{escape(str(ctx.cwd))}</cwd>",
        f"  <approval_policy>{ctx.approval_policy.value}</approval_policy>",
        f"  <sandbox_mode>{ctx.sandbox_mode.value}</sandbox_mode>",
        f"  <network_access>{'enabled' if ctx.network is NetworkMode.FULL else 'restricted'}"
        "</network_access>",
    ]
    if ctx.writable_roots:
        lines.append("  <writable_roots>")
        lines += [f"    <root>{escape(str(root))}</root>" for root in ctx.writable_roots]
        lines.append("  </writable_roots>")
    lines += [f"  <shell>{escape(shell)}</shell>", "</environment_context>"]
    return "\n".join(lines)


def context_messages(ctx: SessionContext) -> list[dict[str, Any]]:
    """The messages that open (and, after compaction, re-open) a session's history."""
    developer = _permissions_text(ctx)
    if ctx.developer_instructions:
        developer += "\n\n" + ctx.developer_instructions
    messages = [_text_message("developer", developer)]
    if ctx.agents_message:
        messages.append(user_message(ctx.agents_message))
    messages.append(user_message(_environment_text(ctx)))
    return messages


def is_context_message(item: dict[str, Any]) -> bool:
    """True for the injected context (not part of the conversation proper)."""
    if item.get("type") != "message" or item.get("role") not in ("user", "developer"):
        return False
    if item.get("role") == "developer":
        return True
    content = item.get("content")
    if not isinstance(content, list) or not content:
        return False
    first = content[0]
    text = first.get("text", "") if isinstance(first, dict) else ""
    return isinstance(text, str) and text.startswith(_CONTEXT_PREFIXES)
