"""The injected context: permissions, AGENTS.md wrapper, environment context."""

from __future__ import annotations

from pathlib import Path

from codex_admin.agent.compaction import (
    build_compacted_history,
    estimate_tokens,
    real_user_messages,
)
from codex_admin.agent.context import (
    SessionContext,
    base_instructions,
    context_messages,
    is_context_message,
    user_message,
)
from codex_admin.vocabulary import ApprovalPolicy, NetworkMode, SandboxMode


def _ctx(**kw: object) -> SessionContext:
    base: dict[str, object] = {
        "cwd": Path("/work/repo"),
        "approval_policy": ApprovalPolicy.NEVER,
        "sandbox_mode": SandboxMode.WORKSPACE_WRITE,
        "network": NetworkMode.NONE,
        "shell": "bash",
    }
    base.update(kw)
    return SessionContext(**base)  # type: ignore[arg-type]


def _text(item: dict[str, object]) -> str:
    content = item["content"]
    assert isinstance(content, list)
    return str(content[0]["text"])


def test_context_messages_in_codex_order() -> None:
    messages = context_messages(
        _ctx(
            developer_instructions="Be careful.",
            agents_message="# AGENTS.md instructions for /work/repo\n\n<INSTRUCTIONS>\nUse tabs.\n"
            "</INSTRUCTIONS>",
        )
    )
    assert [m["role"] for m in messages] == ["developer", "user", "user"]
    developer, agents, env = (_text(m) for m in messages)
    assert developer.startswith("<permissions instructions>")
    assert "`sandbox_mode` is `workspace-write`" in developer and "Be careful." in developer
    assert (
        agents
        == "# AGENTS.md instructions for /work/repo\n\n<INSTRUCTIONS>\nUse tabs.\n</INSTRUCTIONS>"
    )
    assert "<cwd>/work/repo</cwd>" in env and "<approval_policy>never</approval_policy>" in env
    assert "<network_access>restricted</network_access>" in env and "<shell>bash</shell>" in env
    assert all(is_context_message(m) for m in messages)
    assert not is_context_message(user_message("hello"))


def test_environment_context_escapes_xml() -> None:
    env = _text(context_messages(_ctx(cwd=Path("/w/<a&b>")))[-1])
    assert "<cwd>/w/&lt;a&amp;b&gt;</cwd>" in env


def test_base_instructions_ship_with_the_package() -> None:
    assert "apply_patch" in base_instructions()


def test_compacted_history_keeps_context_recent_users_and_summary() -> None:
    context = context_messages(_ctx())
    history = [*context, user_message("first"), user_message("second")]
    new = build_compacted_history(history, context, "did things", mid_turn=False)
    assert new[: len(context)] == context
    assert [_text(m) for m in real_user_messages(new)] == ["first", "second"]
    assert "did things" in _text(new[-1])
    mid = build_compacted_history(history, context, "s", mid_turn=True)
    assert _text(mid[len(mid) - 2]) == "second" and mid[1 : 1 + len(context)] == context
    assert estimate_tokens([user_message("x" * 400)]) >= 100
