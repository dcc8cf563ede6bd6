"""`codex execpolicy ...` as a real subprocess: JSON shapes, exit codes, config discovery."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import Env, run_codex

REPO = Path(__file__).resolve().parents[2]

RULES = """
host_executable(name="git", paths=["/usr/bin/git"])
prefix_rule(pattern=["git", "push"], decision="forbidden", justification="no pushing",
            match=["git push origin"])
prefix_rule(pattern=["git", ["status", "log"]], match=["git status"])
network_rule(host="api.github.com", protocol="https", decision="allow")
network_rule(host="evil.example", protocol="http", decision="deny")
"""


def _rules(env: Env, text: str = RULES, name: str = "a.rules") -> Path:
    return env.write(env.root / name, text)


def test_check_json_exact_bytes(env: Env) -> None:
    rules = _rules(env)
    proc = run_codex("execpolicy", "check", "-r", str(rules), "git", "push", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        '{"matchedRules":[{"prefixRuleMatch":{"matchedPrefix":["git","push"],'
        '"decision":"forbidden","justification":"no pushing"}}],"decision":"forbidden"}\n'
    )


def test_check_resolve_host_executables_and_no_match(env: Env) -> None:
    rules = _rules(env)
    proc = run_codex(
        "execpolicy", "check", "--rules", str(rules), "--resolve-host-executables",
        "/usr/bin/git", "status",
    )  # fmt: skip
    match = json.loads(proc.stdout)["matchedRules"][0]["prefixRuleMatch"]
    assert list(match) == ["matchedPrefix", "decision", "resolvedProgram"]
    assert match["resolvedProgram"] == "/usr/bin/git"
    proc = run_codex("execpolicy", "check", "-r", str(rules), "--pretty", "--", "ls", "-la")
    assert proc.returncode == 0 and proc.stdout == '{\n  "matchedRules": []\n}\n'


def test_check_trailing_args_look_like_flags(env: Env) -> None:
    rules = _rules(env, 'prefix_rule(pattern=["tool", "--pretty"], decision="prompt")\n')
    proc = run_codex("execpolicy", "check", "-r", str(rules), "tool", "--pretty", "-r", "x")
    assert json.loads(proc.stdout)["decision"] == "prompt"


def test_check_errors_and_usage(env: Env) -> None:
    broken = _rules(env, 'prefix_rule(pattern=["a"], decision="deny")\n', "broken.rules")
    proc = run_codex("execpolicy", "check", "-r", str(broken), "ls")
    assert proc.returncode == 1 and proc.stdout == ""
    assert f"{broken}:1: starlark error: invalid decision: deny" in proc.stderr
    assert "Traceback" not in proc.stderr
    missing = run_codex("execpolicy", "check", "-r", str(env.root / "nope.rules"), "ls")
    assert missing.returncode == 1 and "failed to read policy at" in missing.stderr
    assert run_codex("execpolicy", "check", "ls").returncode == 2  # no --rules
    assert run_codex("execpolicy", "check", "-r", str(broken)).returncode == 2  # no command
    assert run_codex("execpolicy", "check", "-r").returncode == 2
    helped = run_codex("execpolicy", "check", "--help")
    assert helped.returncode == 0 and "--resolve-host-executables" in helped.stdout


def test_fast_path_and_typer_path_agree(env: Env) -> None:
    """`--rules=X` is answered by the fast path; an unknown option routes through typer."""
    rules = _rules(env)
    fast = run_codex("execpolicy", "check", f"--rules={rules}", "git", "log")
    slow = run_codex("execpolicy", "check", "-r", str(rules), "--", "git", "log")
    assert fast.stdout == slow.stdout and fast.returncode == slow.returncode == 0


def test_explain_json_with_explicit_rules(env: Env) -> None:
    rules = _rules(env)
    proc = run_codex(
        "execpolicy", "explain", "-r", str(rules), "--approval-policy", "on-request",
        "--sandbox", "workspace-write", "--json", "--", "bash", "-lc", "git status && ls",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data == {
        "commands": [["git", "status"], ["ls"]],
        "usedComplexParsing": False,
        "matchedRules": [
            {"prefixRuleMatch": {"matchedPrefix": ["git", "status"], "decision": "allow"}},
            {"heuristicsRuleMatch": {"command": ["ls"], "decision": "allow"}},
        ],
        "decision": "allow",
        "requirement": {
            "type": "skip",
            "reason": None,
            "bypassSandbox": False,
            "proposedAmendment": None,
        },
        "sandboxBypassAllowed": True,
        "notes": [],
    }


def test_explain_text_and_flags(env: Env) -> None:
    rules = _rules(env)
    proc = run_codex(
        "execpolicy", "explain", "-r", str(rules), "--approval-policy", "never",
        "/usr/bin/git", "push",
    )  # fmt: skip
    assert proc.returncode == 0
    assert "runtime: refuse" in proc.stdout
    assert "reason: `/usr/bin/git push` rejected: no pushing" in proc.stdout
    escalated = run_codex(
        "execpolicy", "explain", "-r", str(rules), "--escalated", "--json",
        "--requested-prefix-rule", '["make", "test"]', "make", "test",
    )  # fmt: skip
    req = json.loads(escalated.stdout)["requirement"]
    assert req["type"] == "needs_approval" and req["proposedAmendment"] == ["make", "test"]
    bad = run_codex("execpolicy", "explain", "-r", str(rules), "--sandbox", "nope", "ls")
    assert bad.returncode == 2
    bad_json = run_codex(
        "execpolicy", "explain", "-r", str(rules), "--requested-prefix-rule", "{", "ls"
    )
    assert bad_json.returncode == 2


def test_explain_discovers_configured_rules_and_requirements(env: Env) -> None:
    env.write(
        env.system / "rules" / "org.rules", 'prefix_rule(pattern=["curl"], decision="prompt")\n'
    )
    env.write(env.home / "rules" / "mine.rules", 'prefix_rule(pattern=["curl"])\n')
    env.requirements(
        '[rules]\nprefix_rules = [{ pattern = [{ token = "wget" }], decision = "forbidden",'
        ' justification = "use curl" }]\n'
    )
    env.user('approval_policy = "untrusted"\nsandbox_mode = "read-only"\n')
    project = env.project("proj", trusted=True)
    env.write(project / ".codex" / "rules" / "p.rules", 'prefix_rule(pattern=["make"])\n')
    untrusted = env.project("other", trusted=False)
    env.write(
        untrusted / ".codex" / "rules" / "p.rules",
        'prefix_rule(pattern=["ls"], decision="forbidden")\n',
    )

    curl = json.loads(run_codex("execpolicy", "explain", "--json", "curl", "x", cwd=project).stdout)
    assert [m["prefixRuleMatch"]["decision"] for m in curl["matchedRules"]] == ["prompt", "allow"]
    assert curl["requirement"]["reason"] == "`curl x` requires approval by policy"
    wget = json.loads(run_codex("execpolicy", "explain", "--json", "wget", "x", cwd=project).stdout)
    assert wget["requirement"]["reason"] == "`wget x` rejected: use curl"
    make = json.loads(run_codex("execpolicy", "explain", "--json", "make", cwd=project).stdout)
    assert make["decision"] == "allow" and make["requirement"]["bypassSandbox"] is True
    # defaults come from the configuration: untrusted approval prompts for unknown commands
    other = json.loads(
        run_codex("execpolicy", "explain", "--json", "ls", "-l", cwd=untrusted).stdout
    )
    assert other["matchedRules"] == [
        {"heuristicsRuleMatch": {"command": ["ls", "-l"], "decision": "allow"}}
    ]
    shown = json.loads(run_codex("execpolicy", "show", "--json", cwd=project).stdout)
    assert list(shown["rules"]) == ["curl", "make", "wget"]
    assert shown["rules"]["wget"][0]["source"].endswith("requirements.toml [rules] #0")


def test_broken_discovered_rules_file_is_a_located_error(env: Env) -> None:
    bad = env.write(env.home / "rules" / "default.rules", "prefix_rule(\n")
    proc = run_codex("execpolicy", "explain", "ls")
    assert proc.returncode == 1 and str(bad) in proc.stderr and "Traceback" not in proc.stderr


def test_show_json_and_text(env: Env) -> None:
    rules = _rules(env)
    data = json.loads(run_codex("execpolicy", "show", "-r", str(rules), "--json").stdout)
    assert data["allowed_domains"] == ["api.github.com"]
    assert data["denied_domains"] == ["evil.example"]
    assert data["host_executables"] == {"git": ["/usr/bin/git"]}
    assert data["rules"]["git"][1]["pattern"] == ["git", ["status", "log"]]
    text = run_codex("execpolicy", "show", "-r", str(rules)).stdout
    assert "forbidden git push" in text and "api.github.com" in text


def test_test_command_formats_and_exit_codes(env: Env) -> None:
    good = _rules(env)
    bad = _rules(
        env,
        'prefix_rule(pattern=["ls"], match=["cat x"])\n'
        'prefix_rule(pattern=["git"], decision="forbidden", match=["git x"])\n'
        'prefix_rule(pattern=["git", "status"], match=["git status"])\n'
        'prefix_rule(pattern=["pwd"])\n',
        "bad.rules",
    )
    ok = run_codex("execpolicy", "test", str(good))
    assert ok.returncode == 0 and "PASSED" in ok.stdout
    failed = run_codex("execpolicy", "test", str(bad), "--format", "json")
    assert failed.returncode == 3
    report = json.loads(failed.stdout)
    assert report["ok"] is False
    statuses = [r["status"] for r in report["files"][0]["rules"]]
    assert statuses == ["fail", "pass", "pass", "untested"]
    assert [u["pattern"] for u in report["uncovered"]] == [["ls"], ["pwd"]]
    assert report["shadowed"][0]["pattern"] == ["git", "status"]
    assert report["shadowed"][0]["shadowedBy"]["pattern"] == ["git"]
    junit = run_codex("execpolicy", "test", str(bad), str(good), "--format", "junit")
    root = ET.fromstring(junit.stdout)
    assert root.tag == "testsuites" and root.get("failures") == "1"
    assert len(root.findall("testsuite")) == 2
    broken = _rules(env, "prefix_rule(\n", "broken.rules")
    load_fail = run_codex("execpolicy", "test", str(broken), "--json")
    assert load_fail.returncode == 3
    assert "broken.rules:1" in json.loads(load_fail.stdout)["files"][0]["error"]
    assert run_codex("execpolicy", "test", str(env.root / "missing")).returncode == 1


def test_amend_cli(env: Env) -> None:
    proc = run_codex("execpolicy", "amend", "--", "npm", "run", "lint")
    assert proc.returncode == 0
    target = env.home / "rules" / "default.rules"
    assert target.read_text() == 'prefix_rule(pattern=["npm", "run", "lint"], decision="allow")\n'
    again = run_codex("execpolicy", "amend", "--json", "npm", "run", "lint")
    assert json.loads(again.stdout) == {"file": str(target), "written": False}
    net = run_codex(
        "execpolicy", "amend", "--file", str(env.root / "n.rules"), "--network", "x.com",
        "--protocol", "https", "--decision", "deny", "--justification", "no",
    )  # fmt: skip
    assert net.returncode == 0
    empty = run_codex("execpolicy", "amend")
    assert empty.returncode == 1 and "prefix rule requires at least one token" in empty.stderr
    proto = run_codex(
        "execpolicy", "amend", "--network", "x.com", "--protocol", "ftp", "--decision", "allow"
    )
    assert proto.returncode == 1 and "network rule protocol must be http or https" in proto.stderr
    decision = run_codex(
        "execpolicy", "amend", "--network", "x.com", "--protocol", "http", "--decision", "prompt"
    )
    assert decision.returncode == 1 and "network rule decision must be allow, deny, or ask" in (
        decision.stderr
    )
    # the amended file loads and allows the command
    check = run_codex("execpolicy", "check", "-r", str(target), "npm", "run", "lint", "--fix")
    assert json.loads(check.stdout)["decision"] == "allow"


def test_shipped_policies_pass(env: Env) -> None:
    """What `make test` runs for the admin rule packs."""
    proc = run_codex("execpolicy", "test", str(REPO / "policies"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failures, 0 uncovered, 0 shadowed" in proc.stdout


def test_test_command_defaults_to_the_configured_rules(env: Env) -> None:
    env.write(
        env.home / "rules" / "default.rules", 'prefix_rule(pattern=["ls"], match=["ls -l"])\n'
    )
    proc = run_codex("execpolicy", "test", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [f["path"] for f in report["files"]] == [str(env.home / "rules" / "default.rules")]
    (env.home / "rules" / "default.rules").unlink()
    empty = run_codex("execpolicy", "test")
    assert empty.returncode == 1 and "no rules files found" in empty.stderr


def test_check_parses_options_before_the_command(env: Env) -> None:
    """Issue 18: `check -r R --json git push` took `--json` as argv[0] and said "no match"."""
    rules = _rules(env)
    for args in (
        ["-r", str(rules), "--json", "git", "push"],
        ["--json", "-r", str(rules), "git", "push"],
        ["--rules", str(rules), "--", "git", "push"],
        ["--rules", str(rules), "git", "push"],
        [f"-r{rules}", "git", "push"],
        ["-c", "model=x", "--enable", "f", "--disable=g", "-r", str(rules), "git", "push"],
    ):
        proc = run_codex("execpolicy", "check", *args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert json.loads(proc.stdout)["decision"] == "forbidden", args
    for args in (
        ["-r", str(rules), "--bogus", "git", "push"],
        ["-r", str(rules), "-x", "git", "push"],
        ["-r", str(rules), "--pretty=yes", "git", "push"],
    ):
        proc = run_codex("execpolicy", "check", *args)
        assert proc.returncode == 2, (args, proc.stdout)
        assert "No such option" in proc.stderr or "does not take a value" in proc.stderr
        assert proc.stdout == ""
    # after `--` (or the first word) everything belongs to the command
    literal = run_codex("execpolicy", "check", "-r", str(rules), "--", "--json", "git")
    assert literal.returncode == 0 and json.loads(literal.stdout) == {"matchedRules": []}
    helped = run_codex("execpolicy", "check", "-h")
    assert helped.returncode == 0 and "--json" in helped.stdout


def test_explain_and_amend_refuse_unknown_options(env: Env) -> None:
    rules = _rules(env)
    assert run_codex("execpolicy", "explain", "-r", str(rules), "--bogus", "ls").returncode == 2
    assert run_codex("execpolicy", "amend", "--bogus", "ls").returncode == 2
    assert not (env.home / "rules" / "default.rules").exists()


def test_flipping_git_push_to_allow_fails_the_pack_tests(env: Env) -> None:
    """Issue 18: `execpolicy test` could not assert a decision; the packs' decision tests do."""
    import shutil

    packs = env.root / "policies"
    shutil.copytree(REPO / "policies", packs)
    assert run_codex("execpolicy", "test", str(packs)).returncode == 0
    git = packs / "git.rules"
    text = git.read_text()
    flipped = text.replace(
        'pattern = ["git", "push"],\n    decision = "prompt",',
        'pattern = ["git", "push"],\n    decision = "allow",',
    )
    assert flipped != text
    git.write_text(flipped)
    proc = run_codex("execpolicy", "test", str(packs), "--json")
    assert proc.returncode == 3
    report = json.loads(proc.stdout)
    failures = [
        case
        for case_file in report["caseFiles"]
        for case in case_file["cases"]
        if case["status"] == "fail"
    ]
    assert any(
        case["cmd"] == ["git", "push", "origin", "main"]
        and "decision: expected prompt, got allow" in case["message"]
        for case in failures
    )
    text_report = run_codex("execpolicy", "test", str(packs))
    assert text_report.returncode == 3 and "FAIL" in text_report.stdout
    junit = run_codex("execpolicy", "test", str(packs), "--format", "junit")
    assert junit.returncode == 3 and "expected prompt, got allow" in junit.stdout


def test_decision_test_files_are_validated(env: Env) -> None:
    rules = _rules(env)
    tests = env.root / "tests"
    case = env.write(
        tests / "t.toml",
        f'rules = ["{rules}"]\n\n[[case]]\ncmd = "git push"\ndecison = "forbidden"\n',
    )
    proc = run_codex("execpolicy", "test", str(case), "--json")
    assert proc.returncode == 3
    error = json.loads(proc.stdout)["caseFiles"][0]["error"]
    assert "unknown key `decison`" in error and "did you mean `decision`?" in error
    assert f"{case}:3" in error
    env.write(tests / "t.toml", f'rules = ["{rules}"]\n[[case]]\ncmd = "git push"\n')
    missing = run_codex("execpolicy", "test", str(case))
    assert missing.returncode == 3 and "a case needs `decision` or `runtime`" in missing.stdout
    env.write(
        tests / "t.toml",
        f'rules = ["{rules}"]\n[[case]]\ncmd = "git push"\nruntime = "refuse"\n',
    )
    bad = run_codex("execpolicy", "test", str(case))
    assert bad.returncode == 3 and "`runtime` must be one of" in bad.stdout
    env.write(
        tests / "t.toml",
        f'rules = ["{rules}"]\n[[case]]\ncmd = ["git", "push"]\ndecision = "forbidden"\n'
        'runtime = "forbidden"\n[[case]]\ncmd = "git status"\nruntime = "skip"\n'
        "bypass_sandbox = true\n",
    )
    good = run_codex("execpolicy", "test", str(case), "--json")
    assert good.returncode == 0, good.stdout
    assert json.loads(good.stdout)["summary"]["cases"] == 2


def test_check_stays_on_the_typer_free_fast_path(env: Env) -> None:
    rules = _rules(env)
    code = (
        "import sys; from codex_admin.cli.main import main; "
        f"main(['execpolicy', 'check', '-r', {str(rules)!r}, '--json', 'git', 'push']); "
        "heavy = [m for m in ('typer', 'click', 'pydantic', 'tree_sitter', 'httpx', 'rich') "
        "if m in sys.modules]; print(heavy)"
    )
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
