"""Matching (spec §3), requirement overlays (§6) and rules discovery (§6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codex_admin.errors import CodexError
from codex_admin.execpolicy import (
    Decision,
    HeuristicsRuleMatch,
    Policy,
    discover_rule_files,
    load_configured_policy,
    requirement_rules_policy,
)

from .helpers import parse

GIT = """
prefix_rule(pattern=["git", ["status", "log"]], justification="read only")
prefix_rule(pattern=["git", "push"], decision="prompt")
prefix_rule(pattern=["git", "push", "--force"], decision="forbidden")
"""


def test_prefix_match_tokens_and_trailing_args() -> None:
    policy = parse(GIT)
    ev = policy.check(["git", "log", "--oneline", "-3"])
    assert ev.to_check_json() == {
        "matchedRules": [
            {
                "prefixRuleMatch": {
                    "matchedPrefix": ["git", "log"],
                    "decision": "allow",
                    "justification": "read only",
                }
            }
        ],
        "decision": "allow",
    }
    assert policy.check(["git"]).to_check_json() == {"matchedRules": []}
    assert policy.check(["Git", "status"]).decision is None  # case-sensitive
    assert policy.check([]).decision is None


def test_strictest_decision_wins_and_all_matches_reported() -> None:
    ev = parse(GIT).check(["git", "push", "--force", "origin"])
    assert [m.decision for m in ev.matched_rules] == [Decision.PROMPT, Decision.FORBIDDEN]
    assert ev.decision is Decision.FORBIDDEN
    assert list(ev.to_check_json()) == ["matchedRules", "decision"]


def test_basename_fallback_is_opt_in_and_gated() -> None:
    policy = parse(GIT)
    assert policy.check(["/usr/bin/git", "status"]).decision is None
    ev = policy.check(["/usr/local/../bin/git", "status"], resolve_host_executables=True)
    body = ev.to_check_json()["matchedRules"][0]["prefixRuleMatch"]
    assert list(body) == ["matchedPrefix", "decision", "resolvedProgram", "justification"]
    assert body["matchedPrefix"] == ["git", "status"] and body["resolvedProgram"] == "/usr/bin/git"
    for relative in ("./git", "bin/git", "git/../git"):
        assert policy.check([relative, "status"], resolve_host_executables=True).decision is None
    gated = parse(GIT + 'host_executable(name="git", paths=["/usr/bin/git"])\n')
    assert gated.check(["/usr/bin/git", "push"], resolve_host_executables=True).decision is (
        Decision.PROMPT
    )
    assert gated.check(["/tmp/git", "push"], resolve_host_executables=True).decision is None
    blocked = parse(GIT + 'host_executable(name="git", paths=[])\n')
    assert blocked.check(["/usr/bin/git", "push"], resolve_host_executables=True).decision is None


def test_home_relative_argv0_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/dev")
    policy = parse(GIT + 'host_executable(name="git", paths=["~/bin/git"])\n')
    ev = policy.check(["~/bin/git", "push"], resolve_host_executables=True)
    assert (
        ev.matched_rules[0].to_json()["prefixRuleMatch"]["resolvedProgram"] == "/home/dev/bin/git"
    )


def test_exact_matches_suppress_basename_rules() -> None:
    policy = parse(
        'prefix_rule(pattern=["/usr/bin/git", "push"])\n'
        'prefix_rule(pattern=["git", "push"], decision="forbidden")\n'
    )
    ev = policy.check(["/usr/bin/git", "push"], resolve_host_executables=True)
    assert ev.decision is Decision.ALLOW  # exact step wins even when basename is stricter


def test_heuristic_fallback_and_check_multiple() -> None:
    policy = parse(GIT)
    ev = policy.check_multiple([["git", "status"], ["make"]], fallback=lambda cmd: Decision.PROMPT)
    assert isinstance(ev.matched_rules[1], HeuristicsRuleMatch)
    assert ev.matched_rules[1].to_json() == {
        "heuristicsRuleMatch": {"command": ["make"], "decision": "prompt"}
    }
    assert ev.decision is Decision.PROMPT and ev.is_match


def test_allowed_prefixes_and_add_prefix_rule() -> None:
    policy = parse(GIT)
    policy.add_prefix_rule(["npm", "test"], Decision.ALLOW)
    assert policy.allowed_prefixes() == [["git", "[status|log]"], ["npm", "test"]]
    with pytest.raises(ValueError, match="prefix cannot be empty"):
        policy.add_prefix_rule([], Decision.ALLOW)


def test_merge_overlay_appends_rules_and_replaces_host_executables() -> None:
    base = parse(GIT + 'host_executable(name="git", paths=["/a/git"])\n')
    overlay = parse(
        'prefix_rule(pattern=["git", "status"], decision="forbidden")\n'
        'host_executable(name="git", paths=["/b/git"])\n'
        'network_rule(host="x.com", protocol="http", decision="deny")\n'
    )
    merged = base.merge_overlay(overlay)
    assert merged.rules_by_program["git"][-1].decision is Decision.FORBIDDEN
    assert merged.host_executables["git"] == ("/b/git",)
    assert merged.check(["git", "status"]).decision is Decision.FORBIDDEN
    assert base.rule_count == 3  # the base is untouched


REQ_OK = {
    "prefix_rules": [
        {
            "pattern": [{"token": "git"}, {"any_of": ["push", "fetch"]}],
            "decision": "prompt",
            "justification": "review remote ops",
        },
        {"pattern": [{"any_of": ["rm", "shred"]}], "decision": "forbidden"},
    ]
}


def test_requirement_rules_overlay() -> None:
    overlay = requirement_rules_policy(REQ_OK, "/etc/codex/requirements.toml")
    assert list(overlay.rules_by_program) == ["git", "rm", "shred"]
    merged = parse(GIT).merge_overlay(overlay)
    assert merged.check(["git", "fetch"]).decision is Decision.PROMPT
    assert merged.check(["shred", "x"]).decision is Decision.FORBIDDEN


def _one(**rule: Any) -> dict[str, Any]:
    return {"prefix_rules": [rule]}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"prefix_rules": []}, "rules prefix_rules cannot be empty"),
        (_one(pattern=[], decision="prompt"), "rules prefix_rule at index 0 has an empty pattern"),
        (
            _one(pattern=[{"token": " "}], decision="prompt"),
            "rules prefix_rule at index 0 has an invalid pattern token at index 0: ",
        ),
        (
            _one(pattern=[{"token": "a"}, {"any_of": []}], decision="prompt"),
            "has an invalid pattern token at index 1: ",
        ),
        (
            _one(pattern=[{"token": "a"}, {"any_of": ["x", ""]}], decision="prompt"),
            "has an invalid pattern token at index 1: ",
        ),
        (
            _one(pattern=[{"token": "a", "any_of": ["b"]}], decision="prompt"),
            "has an invalid pattern token at index 0: ",
        ),
        (_one(pattern=[{}], decision="prompt"), "has an invalid pattern token at index 0: "),
        (
            _one(pattern=[{"token": "a"}], decision="prompt", justification="  "),
            "rules prefix_rule at index 0 has an empty justification",
        ),
        (_one(pattern=[{"token": "a"}]), "rules prefix_rule at index 0 is missing a decision"),
        (_one(pattern=[{"token": "a"}], decision="allow"), "decision `allow`"),
    ],
)
def test_requirement_rule_errors(rules: Any, message: str) -> None:
    with pytest.raises(CodexError) as info:
        requirement_rules_policy(rules, "req.toml")
    assert message in info.value.message
    assert str(info.value).startswith("req.toml: ")


def test_discovery_order_filters_and_errors(tmp_path: Path) -> None:
    system, home, project = tmp_path / "sys", tmp_path / "home", tmp_path / "proj" / ".codex"
    for folder in (system, home, project):
        (folder / "rules").mkdir(parents=True)
    (system / "rules" / "b.rules").write_text('prefix_rule(pattern=["b"])\n')
    (system / "rules" / "a.rules").write_text('prefix_rule(pattern=["a"])\n')
    (system / "rules" / "notes.txt").write_text("ignored")
    (system / "rules" / "x.rules.bak").write_text("ignored")
    (system / "rules" / "nested").mkdir()
    (system / "rules" / "nested" / "deep.rules").write_text("ignored")
    (system / "rules" / "dir.rules").mkdir()
    (home / "rules" / "default.rules").write_text('prefix_rule(pattern=["a"], decision="prompt")\n')
    (project / "rules" / "p.rules").write_text('prefix_rule(pattern=["a"], decision="forbidden")\n')
    files = discover_rule_files([system, home, project, tmp_path / "missing"])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "sys/rules/a.rules",
        "sys/rules/b.rules",
        "home/rules/default.rules",
        "proj/.codex/rules/p.rules",
    ]
    policy, _ = load_configured_policy([system, home, project], REQ_OK)
    assert [r.decision.value for r in policy.rules_by_program["a"]] == [
        "allow",
        "prompt",
        "forbidden",
    ]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "rules").write_text("not a dir")
    with pytest.raises(CodexError, match="failed to read rules files from"):
        discover_rule_files([tmp_path / "bad"])


def test_broken_discovered_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    broken = tmp_path / "rules" / "broken.rules"
    broken.write_text('prefix_rule(pattern=["a"])\nprefix_rule(pattern=["b"], decision="maybe")\n')
    with pytest.raises(CodexError) as info:
        load_configured_policy([tmp_path])
    assert str(info.value).startswith(f"{broken}:2: starlark error: invalid decision: maybe")


def test_policy_json_shape() -> None:
    policy: Policy = parse(
        GIT
        + 'network_rule(host="a.com", protocol="https", decision="allow")\n'
        + 'host_executable(name="git", paths=["/usr/bin/git"])\n'
    )
    data = policy.to_json()
    assert list(data) == [
        "rules",
        "network_rules",
        "allowed_domains",
        "denied_domains",
        "host_executables",
    ]
    assert data["rules"]["git"][0] == {
        "pattern": ["git", ["status", "log"]],
        "decision": "allow",
        "justification": "read only",
        "source": "test.rules:2",
    }
    assert data["network_rules"] == [
        {"host": "a.com", "protocol": "https", "decision": "allow", "justification": None}
    ]
    assert data["host_executables"] == {"git": ["/usr/bin/git"]}
