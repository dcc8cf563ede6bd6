"""`codex hooks list | trust | test` through the real CLI (a subprocess per call)."""

from __future__ import annotations

import json

from tests.conftest import run_codex
from tests.hooks.conftest import Hooks, emit, group


def test_list_shows_untrusted_hooks_and_how_to_trust(hk: Hooks) -> None:
    hk.hooks_json(hk.env.home, {"PreToolUse": [group("echo check", "Bash")]})
    done = run_codex("hooks", "list")
    assert done.returncode == 0, done.stderr
    assert "PreToolUse  matcher=Bash  [untrusted; does not run]" in done.stdout
    assert "1 hook needs review before it can run." in done.stdout
    data = json.loads(run_codex("hooks", "list", "--json").stdout)
    [hook] = data["hooks"]
    assert (
        hook["trust"] == "untrusted" and hook["runnable"] is False and hook["event"] == "PreToolUse"
    )
    assert hook["source"] == "user" and hook["source_path"].endswith("hooks.json")
    assert [p["kind"] for p in data["problems"]] == ["untrusted"]
    assert set(data) == {
        "enabled",
        "disabled_reason",
        "managed_only",
        "cwd",
        "project_dir",
        "review_summary",
        "hooks",
        "problems",
        "warnings",
    }


def test_trust_by_id_then_list(hk: Hooks) -> None:
    hk.hooks_json(hk.env.home, {"Stop": [group("echo a"), group("echo b")]})
    first, second = json.loads(run_codex("hooks", "list", "--json").stdout)["hooks"]
    done = run_codex("hooks", "trust", first["id"], "--json")
    assert done.returncode == 0, done.stderr
    assert [h["id"] for h in json.loads(done.stdout)["trusted"]] == [first["id"]]
    trust = {
        h["id"]: h["trust"]
        for h in json.loads(run_codex("hooks", "list", "--json").stdout)["hooks"]
    }
    assert trust == {first["id"]: "trusted", second["id"]: "untrusted"}
    done = run_codex("hooks", "trust", "--all")
    assert done.returncode == 0 and f"trusted {second['id']}" in done.stdout
    assert "No hooks need review here." in run_codex("hooks", "trust", "--all").stdout


def test_trust_usage_errors(hk: Hooks) -> None:
    hk.hooks_json(hk.env.home, {"Stop": [group("echo a")]})
    assert run_codex("hooks", "trust").returncode == 2
    assert run_codex("hooks", "trust", "--all", "abc").returncode == 2
    done = run_codex("hooks", "trust", "nope")
    assert done.returncode == 1 and "no hook 'nope'" in done.stderr


def test_trust_managed_is_a_no_op(hk: Hooks) -> None:
    hk.env.requirements('[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ncommand = "echo m"\n')
    [hook] = json.loads(run_codex("hooks", "list", "--json").stdout)["hooks"]
    done = run_codex("hooks", "trust", hook["id"])
    assert done.returncode == 0 and "managed hooks are always trusted" in done.stdout
    assert not (hk.env.home / "config.toml").exists()


def test_test_command_reports_a_deny_and_exits_3(hk: Hooks) -> None:
    project = hk.env.project()
    hk.hooks_json(
        project / ".codex", {"PreToolUse": [group("echo 'no rm -rf' >&2; exit 2", "Bash")]}
    )
    assert run_codex("hooks", "trust", "--all", "-C", str(project)).returncode == 0
    done = run_codex(
        "hooks",
        "test",
        "PreToolUse",
        "--tool",
        "Bash",
        "--input",
        '{"command": "rm -rf ~"}',
        "-C",
        str(project),
        "--json",
    )
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    assert report["blocked"] is True and report["outcome"]["decision"] == "deny"
    assert report["outcome"]["reason"] == "no rm -rf"
    assert report["input"] == {"tool_name": "Bash", "tool_input": {"command": "rm -rf ~"}}
    text = run_codex(
        "hooks", "test", "pre_tool_use", "--input", '{"command": "rm -rf ~"}', "-C", str(project)
    )
    assert text.returncode == 3 and "feedback: no rm -rf" in text.stdout


def test_test_command_lists_untrusted_hooks_as_skipped(hk: Hooks) -> None:
    marker = hk.tmp / "ran"
    hk.hooks_json(hk.env.home, {"PreToolUse": [group(f"touch {marker}", "Write")]})
    done = run_codex("hooks", "test", "PreToolUse", "--tool", "apply_patch", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["matcher_inputs"] == ["apply_patch", "Write", "Edit"]
    assert [s["reason"].split(":")[0] for s in report["skipped"]] == ["untrusted"]
    assert not marker.exists()


def test_test_command_stop_continuation(hk: Hooks) -> None:
    hk.hooks_json(
        hk.env.home, {"Stop": [group(emit({"decision": "block", "reason": "run tests"}))]}
    )
    run_codex("hooks", "trust", "--all")
    done = run_codex("hooks", "test", "Stop", "--json")
    assert done.returncode == 0
    outcome = json.loads(done.stdout)["outcome"]
    assert outcome["decision"] == "continue" and outcome["continuation"] == "run tests"


def test_test_command_uses_the_secret_stripping_environment(hk: Hooks) -> None:
    out = hk.tmp / "env.txt"
    hk.hooks_json(hk.env.home, {"Stop": [group(f"env > {out}")]})
    run_codex("hooks", "trust", "--all")
    done = run_codex(
        "hooks", "test", "Stop", env={"OPENAI_API_KEY": "sk-nope", "GITHUB_TOKEN": "ghp-nope"}
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "sk-nope" not in text and "ghp-nope" not in text and "PATH=" in text


def test_test_command_usage_errors(hk: Hooks) -> None:
    assert run_codex("hooks", "test", "Nonsense").returncode == 2
    assert run_codex("hooks", "test", "PreToolUse", "--input", "{bad").returncode == 2
    assert run_codex("hooks", "test", "PreToolUse", "--input", "[1]").returncode == 2
    done = run_codex("hooks", "test", "Stop", "--tool", "Bash")
    assert done.returncode == 1 and "--tool applies only to tool events" in done.stderr


def test_bad_requirements_fail_closed_with_location(hk: Hooks) -> None:
    hk.env.requirements("[[hooks.PreTooluse]]\nhooks = []\n")
    done = run_codex("hooks", "list")
    assert done.returncode == 1
    assert "requirements.toml:1:1: unknown key `hooks.PreTooluse`" in done.stderr
    assert "Traceback" not in done.stderr


def test_feature_off_is_explained(hk: Hooks) -> None:
    hk.env.requirements("[features]\nhooks = false\n")
    done = run_codex("hooks", "list")
    assert (
        done.returncode == 0
        and "Hooks are off: hooks are turned off by requirements" in done.stdout
    )


def test_root_help_lists_hooks() -> None:
    assert "hooks" in run_codex("--help").stdout
