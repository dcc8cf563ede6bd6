"""Running outside the sandbox is a narrow privilege (issue 10, high #1).

An explicit allow bypasses the sandbox only when the caller permits it (never while requirements
constrain the filesystem or network), when every command *and every command it delegates to*
has its own allow, and when no option voids the allow by running programs or writing files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codex_admin.execpolicy import evaluate_exec
from codex_admin.governance import GovernanceRequest, load_governance
from tests.conftest import Env, run_codex

from .helpers import parse

RULES = """
prefix_rule(pattern=["git", ["status", "log", "diff", "show"]])
prefix_rule(pattern=["ls"])
prefix_rule(pattern=["cat"])
prefix_rule(pattern=["env"])
prefix_rule(pattern=["find", "."])
prefix_rule(pattern=["rg"])
prefix_rule(pattern=["tree"])
prefix_rule(pattern=["sort"])
prefix_rule(pattern=["sed"])
prefix_rule(pattern=["curl"])
prefix_rule(pattern=["xargs"])
"""
POLICY = parse(RULES)


def _bypass(argv: list[str], **kw: bool) -> bool:
    result = evaluate_exec(POLICY, argv, **kw)  # type: ignore[arg-type]
    assert result.requirement.kind == "skip", result.requirement
    return result.requirement.bypass_sandbox


def test_an_explicit_allow_bypasses_only_when_the_caller_permits_it() -> None:
    assert _bypass(["git", "status"]) is True
    assert _bypass(["git", "status"], sandbox_bypass=False) is False
    decision = evaluate_exec(POLICY, ["git", "status"], sandbox_bypass=False)
    assert decision.to_json()["sandboxBypassAllowed"] is False


@pytest.mark.parametrize(
    ("argv", "bypass"),
    [
        (["env", "ls"], True),  # both have their own allow
        (["env", "make"], False),  # make has none: it runs inside the sandbox
        (["env", "FOO=1", "cat", "x"], True),
        (["find", ".", "-exec", "cat", "{}", ";"], False),  # -exec voids find's allow
        (["xargs", "cat"], False),  # the arguments xargs appends are unknown
        (["bash", "-lc", "ls && env ls"], True),
        (["bash", "-lc", "ls && env make"], False),
        (["bash", "-lc", "cat x > y"], False),  # a redirect: not split, not allowed
        (["bash", "-lc", "ls $(make)"], False),
    ],
)
def test_a_delegated_command_needs_its_own_allow(argv: list[str], bypass: bool) -> None:
    assert _bypass(argv) is bypass


@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["find", ".", "-delete"], "-delete"),
        (["find", ".", "-name", "x", "-exec", "rm", "{}", ";"], "-exec"),
        (["find", ".", "-fprint", "/tmp/out"], "-fprint"),
        (["find", ".", "-fprintf", "/tmp/out", "%p"], "-fprintf"),
        (["find", ".", "-fls", "/tmp/out"], "-fls"),
        (["find", ".", "-okdir", "sh", ";"], "-okdir"),
        (["rg", "--pre", "./x", "needle"], "--pre"),
        (["rg", "--pre-glob=*", "needle"], "--pre-glob"),
        (["rg", "-z", "needle"], "-z"),
        (["tree", "-o", "/tmp/out"], "-o"),
        (["git", "log", "--output=/tmp/x"], "--output"),
        (["git", "diff", "--output", "/tmp/x"], "--output"),
        (["git", "show", "--output=/tmp/x", "HEAD"], "--output"),
        (["git", "diff", "--ext-diff"], "--ext-diff"),
        (["git", "log", "-p", "--textconv"], "--textconv"),
        (["sort", "-o", "/tmp/x", "in"], "-o"),
        (["sort", "--compress-program=./x", "in"], "--compress-program"),
        (["sed", "-i", "s/a/b/", "f"], "-i"),
        (["sed", "-n", "w /tmp/out", "f"], "writes"),
        (["curl", "-o", "/tmp/x", "https://example.com"], "-o"),
        (["curl", "-K", "cfg"], "-K"),
    ],
)
def test_options_that_run_programs_or_write_files_void_the_allow(
    argv: list[str], word: str
) -> None:
    result = evaluate_exec(POLICY, argv)
    assert result.requirement.bypass_sandbox is False
    assert not result.evaluation.is_match or all(
        m.to_json().get("heuristicsRuleMatch") for m in result.evaluation.matched_rules[:1]
    )
    assert any("ignored for" in note and word in note for note in result.notes), result.notes


def test_git_global_options_are_never_part_of_an_allow() -> None:
    # `git -c core.pager=...` does not even match `git log` by prefix (position 1 is -c)...
    assert _bypass(["git", "-c", "core.pager=less", "log"]) is False
    # ...and an admin's blanket `git` allow is voided by any global option
    blanket = parse('prefix_rule(pattern=["git"])')
    result = evaluate_exec(blanket, ["git", "-p", "log"])
    assert result.requirement.bypass_sandbox is False
    assert any("before the subcommand" in note for note in result.notes)
    assert evaluate_exec(blanket, ["git", "log"]).requirement.bypass_sandbox is True


@pytest.mark.parametrize(
    "requirements",
    [
        '[permissions.filesystem]\ndeny_read = ["/etc/shadow"]\n',
        "[experimental_network]\nenabled = true\n",
        'allowed_sandbox_modes = ["read-only", "workspace-write"]\n',
    ],
)
def test_governance_forbids_bypass_while_requirements_constrain(
    env: Env, requirements: str
) -> None:
    env.write(env.home / "rules" / "mine.rules", 'prefix_rule(pattern=["git", "status"])\n')
    free = load_governance(GovernanceRequest(cwd=env.root))
    assert free.sandbox_bypass_allowed is True
    assert free.decide(["git", "status"]).requirement.bypass_sandbox is True
    env.requirements(requirements)
    constrained = load_governance(GovernanceRequest(cwd=env.root))
    assert constrained.sandbox_bypass_allowed is False
    decision = constrained.decide(["git", "status"])
    assert decision.requirement.kind == "skip" and decision.requirement.bypass_sandbox is False
    assert decision.sandbox_bypass_allowed is False


def test_explain_shows_the_effect(env: Env) -> None:
    rules = env.write(env.root / "r.rules", 'prefix_rule(pattern=["git", "status"])\n')
    free = json.loads(
        run_codex("execpolicy", "explain", "-r", str(rules), "--json", "git", "status").stdout
    )
    assert free["requirement"]["bypassSandbox"] is True and free["sandboxBypassAllowed"] is True
    narrow = run_codex(
        "execpolicy", "explain", "-r", str(rules), "--no-sandbox-bypass", "--json", "git", "status"
    )
    data = json.loads(narrow.stdout)
    assert data["requirement"]["bypassSandbox"] is False and data["sandboxBypassAllowed"] is False
    text = run_codex(
        "execpolicy", "explain", "-r", str(rules), "--no-sandbox-bypass", "git", "status"
    )
    assert "sandbox bypass: never" in text.stdout and "(inside the sandbox)" in text.stdout
    # configured rules: the requirements decide
    env.write(env.home / "rules" / "mine.rules", 'prefix_rule(pattern=["git", "status"])\n')
    env.requirements('[permissions.filesystem]\ndeny_read = ["/etc/shadow"]\n')
    configured = json.loads(run_codex("execpolicy", "explain", "--json", "git", "status").stdout)
    assert configured["sandboxBypassAllowed"] is False
    assert configured["requirement"]["bypassSandbox"] is False


def test_shipped_packs_allow_nothing_that_runs_programs_or_writes(tmp_path: Path) -> None:
    """Every allow rule in policies/ stays narrow under plain prefix matching (what Codex does
    with the same files): none of these forms is matched by an allow rule."""
    from codex_admin.execpolicy import load_policy_files

    packs = sorted((Path(__file__).resolve().parents[2] / "policies").glob("*.rules"))
    policy = load_policy_files(packs)
    for argv in [
        ["find", ".", "-exec", "rm", "{}", ";"], ["find", ".", "-delete"], ["rg", "--pre", "x", "y"],
        ["tree", "-o", "out"], ["git", "log", "--output=x"], ["git", "diff", "--ext-diff"],
        ["git", "show", "--textconv"], ["git", "-c", "core.pager=sh", "status"],
        ["git", "--paginate", "status"], ["sort", "-o", "x"], ["sed", "-i", "s/a/b/", "f"],
        ["file", "-C"], ["npm", "test"], ["npm", "run", "build"], ["cargo", "build"],
        ["git", "branch", "-r", "-d", "origin/x"], ["yarn", "list"], ["tee", "x"],
    ]:  # fmt: skip
        found = policy.check(argv, resolve_host_executables=True)
        assert found.decision is None or found.decision.value != "allow", argv
