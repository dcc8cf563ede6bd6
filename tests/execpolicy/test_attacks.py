"""Attack regressions: ways a command might slip past a forbid/prompt rule."""

from __future__ import annotations

import pytest

from codex_admin.execpolicy import ApprovalPolicy, Decision, SandboxMode, evaluate_exec

from .helpers import parse

RULES = """
host_executable(name="git", paths=["/usr/bin/git"])
prefix_rule(pattern=["git", "push"], decision="forbidden", justification="no pushes")
prefix_rule(pattern=["git", "status"])
prefix_rule(pattern=["curl"], decision="prompt")
prefix_rule(pattern=["bash", "-lc"], decision="prompt")
"""


def _verdict(argv: list[str], approval: ApprovalPolicy = ApprovalPolicy.ON_REQUEST) -> str:
    decision = evaluate_exec(
        parse(RULES), argv, approval=approval, sandbox=SandboxMode.WORKSPACE_WRITE
    )
    return decision.requirement.kind


@pytest.mark.parametrize(
    "argv0",
    [
        "git",
        "/usr/bin/git",
        "/tmp/git",
        "./git",
        "git/../git",
        "/usr/local/../bin/git",
        "../../git",
        "~/git",
        "//usr//bin//git",
    ],
)
def test_argv0_respelled_as_another_path_cannot_escape_a_forbid(argv0: str) -> None:
    assert _verdict([argv0, "push", "origin"]) == "forbidden"


def test_allowlist_gating_still_applies_to_allow_rules() -> None:
    # /tmp/git is not an allowed git, so the git-status *allow* rule does not apply to it...
    result = evaluate_exec(parse(RULES), ["/tmp/git", "status"])
    assert not result.evaluation.is_match
    assert result.requirement.bypass_sandbox is False
    # ...while the real one gets it (and may bypass the sandbox).
    assert evaluate_exec(parse(RULES), ["/usr/bin/git", "status"]).requirement.bypass_sandbox


@pytest.mark.parametrize(
    "script",
    [
        "git status && git push",
        "git status; git push",
        "git status || git push",
        "git status | git push",
        "git status\ngit push",
        "git status\r\ngit push",
        "echo ok && 'git' push",
        'echo ok && "git" push',
        "echo ok && g''it push",
        "echo ok && g\\it push",
        "echo $(git push)",
        "echo `git push`",
        'echo "$(git push)"',
        "GIT_DIR=x git push",
        "env git push",
        "bash -c 'git push'",
        'bash -lc "git push"',
        "(git push)",
        "{ git push; }",
        "git push > /dev/null",
        "x=git; $x push",
        "eval git push",
        "exec git push",
        "git push &",
        "if true; then git push; fi",
        "git status\0; git push",
    ],
)
def test_wrapped_scripts_never_allow_a_forbidden_command(script: str) -> None:
    """Either the split finds `git push` (forbidden) or the script stays whole and is not allowed
    without review (bash -lc is a prompt rule here)."""
    verdict = _verdict(["bash", "-lc", script])
    assert verdict in ("forbidden", "needs_approval")
    assert _verdict(["bash", "-lc", script], ApprovalPolicy.NEVER) == "forbidden"


def test_scripts_that_split_report_the_forbidden_part() -> None:
    for script in ("git status && git push", "git status\ngit push", "git status | git push"):
        assert _verdict(["bash", "-lc", script]) == "forbidden"


@pytest.mark.parametrize(
    "argv",
    [
        ["git", "push\n"],
        ["git", " push"],
        ["git", "Push"],
        ["git", "push\0"],
        ["git\0", "push"],
        ["git push"],
    ],
)
def test_token_tricks_do_not_match_other_tokens(argv: list[str]) -> None:
    """Matching is exact per token: these are different (and harmless-to-git) argv."""
    assert parse(RULES).check(argv).decision is None


def test_nested_bash_is_analysed() -> None:
    argv = ["bash", "-lc", "bash -lc 'git push'"]
    result = evaluate_exec(parse(RULES), argv)
    assert result.commands == [["bash", "-lc", "git push"]]
    assert result.evaluation.decision is Decision.FORBIDDEN
    assert (
        result.requirement.reason
        == "`bash -lc 'bash -lc '\"'\"'git push'\"'\"''` rejected: no pushes"
    )


def test_huge_script_is_not_split_and_needs_approval_while_rules_are_active() -> None:
    script = "ls && " * 20000 + "git push"
    result = evaluate_exec(parse(RULES), ["bash", "-lc", script])
    assert result.commands == [["bash", "-lc", script]]
    assert result.requirement.kind == "needs_approval"
    assert any("too large" in note for note in result.notes)
    never = evaluate_exec(parse(RULES), ["bash", "-lc", script], approval=ApprovalPolicy.NEVER)
    assert never.requirement.kind == "forbidden"


@pytest.mark.parametrize(
    "argv",
    [
        ["env", "git", "push"],
        ["env", "-i", "A=1", "--", "git", "push"],
        ["sudo", "-u", "root", "git", "push"],
        ["/usr/bin/sudo", "/usr/bin/git", "push"],
        ["timeout", "-s", "KILL", "5", "git", "push"],
        ["nice", "-n", "5", "nohup", "git", "push"],
        ["xargs", "-n", "1", "git", "push"],
        ["find", ".", "-exec", "git", "push", ";"],
        ["stdbuf", "-o", "L", "git", "push"],
        ["command", "git", "push"],
        ["exec", "-a", "x", "git", "push"],
        # `--setenv` takes one value here; only bwrap's `--setenv VAR VALUE` takes two
        ["run0", "--setenv", "FOO=1", "git", "push"],
        ["systemd-run", "--setenv", "FOO=1", "git", "push"],
        ["systemd-run", "--setenv=FOO=1", "git", "push"],
        ["bwrap", "--setenv", "FOO", "1", "git", "push"],
        ["bash", "-lc", "cd repo && env GIT_TRACE=1 git push"],
        ["bash", "-lc", "git push > /dev/null 2>&1"],
        ["bash", "-lc", "echo $(git push)"],
    ],
)
def test_delegators_cannot_hide_a_forbidden_command(argv: list[str]) -> None:
    result = evaluate_exec(parse(RULES), argv)
    assert result.requirement.kind == "forbidden"
    assert result.requirement.reason is not None and result.requirement.reason.endswith(
        "rejected: no pushes"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "git push"],
        ["su", "-c", "git push"],
        ["dash", "-c", "git push"],
        ["env", "-S", "git push"],
    ],
)
def test_wrappers_of_scripts_are_seen_through(argv: list[str]) -> None:
    result = evaluate_exec(parse(RULES), argv)
    assert result.requirement.kind == "forbidden"
    assert (result.requirement.reason or "").endswith("rejected: no pushes")


@pytest.mark.parametrize(
    "argv",
    [
        ["source", "./push.sh"],
        ["bash", "-lc", "x=git; $x push"],
        ["bash", "-lc", "if then git push"],
    ],
)
def test_opaque_execution_needs_approval_while_rules_are_active(argv: list[str]) -> None:
    result = evaluate_exec(parse(RULES), argv)
    assert result.requirement.kind == "needs_approval"
    assert any(note.startswith("cannot inspect:") for note in result.notes)
    never = evaluate_exec(parse(RULES), argv, approval=ApprovalPolicy.NEVER)
    assert never.requirement.kind == "forbidden"
    # with no prompt/forbidden rules the ordinary heuristics apply
    relaxed = evaluate_exec(parse('prefix_rule(pattern=["ls"])'), argv)
    assert relaxed.requirement.kind != "forbidden"


def test_queries_are_not_delegation() -> None:
    assert evaluate_exec(parse(RULES), ["command", "-v", "git"]).requirement.kind == "skip"
    assert evaluate_exec(parse(RULES), ["trap", "-l"]).requirement.kind == "skip"


def test_dangerous_detection_looks_inside_unsplittable_scripts() -> None:
    result = evaluate_exec(
        parse(""),
        ["bash", "-lc", 'if [ -d "$T" ]; then rm -rf "$T"; fi'],
        approval=ApprovalPolicy.NEVER,
    )
    assert result.requirement.kind == "forbidden"
    assert result.requirement.reason == (
        '`bash -lc \'if [ -d "$T" ]; then rm -rf "$T"; fi\'` rejected: blocked by policy'
    )
