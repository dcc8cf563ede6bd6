"""Rollouts: 0600 files, no symlink redirection, redaction before disk, resume with compaction."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from codex_admin.agent.rollout import RolloutWriter, find_rollout, list_rollouts, read_rollout
from codex_admin.errors import CodexError


def _redact(text: str) -> str:
    return text.replace("sk-SECRET", "[REDACTED]")


def test_rollout_is_private_and_redacted(tmp_path: Path) -> None:
    writer = RolloutWriter.create(tmp_path, "t-1", redact=_redact)
    writer.write("session_meta", {"id": "t-1", "cwd": "/w"})
    writer.write("response_item", {"type": "message", "content": [{"text": "key sk-SECRET"}]})
    writer.close()
    mode = stat.S_IMODE(writer.path.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(writer.path.parent.stat().st_mode) == 0o700
    text = writer.path.read_text()
    assert "sk-SECRET" not in text and "[REDACTED]" in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [r["type"] for r in lines] == ["session_meta", "response_item"]
    assert lines[0]["timestamp"].endswith("Z")
    assert writer.path.name.startswith("rollout-") and writer.path.name.endswith("-t-1.jsonl")


def test_a_planted_symlink_cannot_redirect_the_rollout(tmp_path: Path) -> None:
    writer = RolloutWriter.create(tmp_path, "t-1", redact=_redact)
    writer.close()
    target = tmp_path / "elsewhere"
    target.write_text("")
    writer.path.unlink()
    writer.path.symlink_to(target)
    with pytest.raises(CodexError, match="symlinks are refused"):
        RolloutWriter.reopen(writer.path, redact=_redact)


def test_sessions_folder_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "sessions").write_text("")
    with pytest.raises(CodexError, match="not a directory"):
        RolloutWriter.create(tmp_path, "t-1", redact=_redact)


def test_resume_rebuilds_history_and_honours_compaction(tmp_path: Path) -> None:
    writer = RolloutWriter.create(tmp_path, "abc", redact=_redact)
    writer.write("session_meta", {"id": "abc", "cwd": "/w"})
    writer.write("response_item", {"type": "message", "role": "user", "content": []})
    writer.write("compacted", {"replacement_history": [{"type": "message", "role": "user"}]})
    writer.write("response_item", {"type": "message", "role": "assistant", "content": []})
    writer.write("event_msg", {"type": "turn.started"})
    writer.close()
    state = read_rollout(writer.path)
    assert state.thread_id == "abc" and state.cwd == "/w"
    assert [i["role"] for i in state.history] == ["user", "assistant"]
    assert find_rollout(tmp_path, "abc").path == writer.path
    assert find_rollout(tmp_path, None, cwd=Path("/w")).path == writer.path
    with pytest.raises(CodexError, match="no recorded session in /other"):
        find_rollout(tmp_path, None, cwd=Path("/other"))
    with pytest.raises(CodexError, match="no recorded session with id nope"):
        find_rollout(tmp_path, "nope")
    assert list_rollouts(tmp_path) == [writer.path]


def test_damaged_rollout_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "rollout.jsonl"
    path.write_text('{"type":"session_meta","payload":{"id":"x"}}\nnot json\n')
    with pytest.raises(CodexError, match=r"rollout.jsonl:2: not a session record"):
        read_rollout(path)
    os.unlink(path)
