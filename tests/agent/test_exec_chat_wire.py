"""`codex exec` against a Chat Completions server (`wire_api = "chat"`): local and gateway
servers keep working, tools included (the patch tool becomes a function tool)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import tomlkit

from tests.support import MockChatServer, chat_text_turn, chat_tool_call_turn

CODEX = [sys.executable, "-c", "from codex_admin.cli.main import main; main()"]


def test_a_chat_wire_turn_with_a_tool_call(tmp_path: Path) -> None:
    repo, home, system = tmp_path / "repo", tmp_path / "home", tmp_path / "system"
    for folder in (repo, home, system):
        folder.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    patch = "*** Begin Patch\n*** Add File: chat.txt\n+via chat\n*** End Patch\n"
    with MockChatServer(chunking="awkward") as server:
        (home / "config.toml").write_text(
            tomlkit.dumps(
                {
                    "model": "local-model",
                    "model_provider": "local",
                    "model_providers": {"local": server.provider_config()},
                    "experimental_use_freeform_apply_patch": False,
                }
            )
        )
        server.enqueue(
            chat_tool_call_turn([("apply_patch", {"input": patch}, "call_1")]),
            chat_text_turn("wrote chat.txt"),
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEX_", "OPENAI_"))}
        env.update(CODEX_HOME=str(home), CODEX_SYSTEM_DIR=str(system), CODEX_MDM_PLIST="")
        run = subprocess.run(
            [*CODEX, "exec", "--json", "-s", "workspace-write", "make a file"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert (repo / "chat.txt").read_text() == "via chat\n"
        events = [json.loads(line) for line in run.stdout.splitlines()]
        messages = [
            e["item"]["text"]
            for e in events
            if e["type"] == "item.completed" and e["item"]["type"] == "agent_message"
        ]
        assert messages == ["wrote chat.txt"]
        first, second = (r.json for r in server.requests)
        assert first["messages"][0]["role"] == "system" and first["stream"] is True
        assert {t["function"]["name"] for t in first["tools"]} >= {"shell", "apply_patch"}
        tool_reply = [m for m in second["messages"] if m["role"] == "tool"]
        assert tool_reply and tool_reply[0]["tool_call_id"] == "call_1"
        assert tool_reply[0]["content"].startswith("Success. Updated the following files:")
