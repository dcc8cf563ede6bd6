"""Runtime decision mapping (spec §7-8): splitting, heuristics, reasons, sandbox, amendments."""

from __future__ import annotations

import pytest

from codex_admin.execpolicy import (
    BANNED_PREFIX_SUGGESTIONS,
    ApprovalPolicy,
    Decision,
    Policy,
    SandboxMode,
    SandboxPermissions,
    commands_for_exec_policy,
    evaluate_exec,
    unmatched_command_decision,
)

from .helpers import parse

A, S, P = ApprovalPolicy, SandboxMode, SandboxPermissions
ALLOW, PROMPT, FORBID = Decision.ALLOW, Decision.PROMPT, Decision.FORBIDDEN

# (approval, sandbox, permissions, command, expected) - §8 rules in order
UNMATCHED = [
    # rule 1: permission expansion needing outer authority
    (A.NEVER, S.WORKSPACE_WRITE, P.WITH_ADDITIONAL_PERMISSIONS, ["ls"], FORBID),
    (A.ON_REQUEST, S.READ_ONLY, P.WITH_ADDITIONAL_PERMISSIONS, ["ls"], PROMPT),
    (A.ON_REQUEST, S.EXTERNAL_SANDBOX, P.REQUIRE_ESCALATED, ["ls"], PROMPT),
    (A.NEVER, S.EXTERNAL_SANDBOX, P.REQUIRE_ESCALATED, ["ls"], FORBID),
    # rule 2: known safe under untrusted
    (A.UNTRUSTED, S.READ_ONLY, P.USE_DEFAULT, ["ls", "-l"], ALLOW),
    (A.UNTRUSTED, S.READ_ONLY, P.USE_DEFAULT, ["bash", "-lc", "ls && pwd"], ALLOW),
    # rule 3: dangerous
    (A.NEVER, S.DANGER_FULL_ACCESS, P.USE_DEFAULT, ["rm", "-rf", "/x"], FORBID),
    (A.ON_REQUEST, S.WORKSPACE_WRITE, P.USE_DEFAULT, ["rm", "-rf", "/x"], PROMPT),
    (A.UNTRUSTED, S.READ_ONLY, P.USE_DEFAULT, ["sudo", "rm", "-f", "x"], PROMPT),
    (A.ON_FAILURE, S.READ_ONLY, P.USE_DEFAULT, ["rm", "-f", "x"], PROMPT),
    # rule 4: the approval-policy table
    (A.NEVER, S.DANGER_FULL_ACCESS, P.USE_DEFAULT, ["make"], ALLOW),
    (A.NEVER, S.READ_ONLY, P.USE_DEFAULT, ["make"], ALLOW),
    (A.NEVER, S.READ_ONLY, P.REQUIRE_ESCALATED, ["make"], ALLOW),
    (A.UNTRUSTED, S.DANGER_FULL_ACCESS, P.USE_DEFAULT, ["make"], PROMPT),
    (A.UNTRUSTED, S.READ_ONLY, P.USE_DEFAULT, ["make"], PROMPT),
    (A.ON_FAILURE, S.READ_ONLY, P.REQUIRE_ESCALATED, ["make"], ALLOW),
    (A.ON_REQUEST, S.DANGER_FULL_ACCESS, P.REQUIRE_ESCALATED, ["make"], ALLOW),
    (A.ON_REQUEST, S.EXTERNAL_SANDBOX, P.USE_DEFAULT, ["make"], ALLOW),
    (A.ON_REQUEST, S.WORKSPACE_WRITE, P.USE_DEFAULT, ["make"], ALLOW),
    (A.ON_REQUEST, S.WORKSPACE_WRITE, P.REQUIRE_ESCALATED, ["make"], PROMPT),
    (A.ON_REQUEST, S.READ_ONLY, P.REQUIRE_ESCALATED, ["ls"], PROMPT),
]


@pytest.mark.parametrize(("approval", "sandbox", "perms", "cmd", "expected"), UNMATCHED)
def test_unmatched_command_table(
    approval: ApprovalPolicy,
    sandbox: SandboxMode,
    perms: SandboxPermissions,
    cmd: list[str],
    expected: Decision,
) -> None:
    assert unmatched_command_decision(cmd, approval, sandbox, perms, False) is expected


def test_complex_parsing_disables_the_known_safe_shortcut() -> None:
    assert (
        unmatched_command_decision(["ls"], A.UNTRUSTED, S.READ_ONLY, P.USE_DEFAULT, True) is PROMPT
    )


def test_command_splitting() -> None:
    assert commands_for_exec_policy(["bash", "-lc", "ls && pwd"]) == ([["ls"], ["pwd"]], False)
    assert commands_for_exec_policy(["bash", "-lc", "python3 <<'P'\nx\nP"]) == ([["python3"]], True)
    assert commands_for_exec_policy(["bash", "-lc", "ls > f"]) == (
        [["bash", "-lc", "ls > f"]],
        False,
    )
    assert commands_for_exec_policy(["bash", "-lc", "  "]) == ([["bash", "-lc", "  "]], False)
    assert commands_for_exec_policy(["ls"]) == ([["ls"]], False)


RULES = """
prefix_rule(pattern=["git", "status"])
prefix_rule(pattern=["git", "push"], decision="prompt")
prefix_rule(pattern=["git", "push", "--force"], decision="forbidden", justification="never force-push")
prefix_rule(pattern=["rm"], decision="forbidden")
prefix_rule(pattern=["npm", "publish"], decision="prompt", justification="releases need review")
"""


def _req(argv: list[str], **kw: object) -> dict[str, object]:
    return evaluate_exec(parse(RULES), argv, **kw).to_json()["requirement"]  # type: ignore[arg-type]


def test_forbidden_reasons() -> None:
    assert _req(["git", "push", "--force", "o"])["reason"] == (
        "`git push --force o` rejected: never force-push"
    )
    assert (
        _req(["rm", "x y"])["reason"]
        == "`rm 'x y'` rejected: policy forbids commands starting with `rm`"
    )
    heuristic = _req(["rm", "-rf", "/"], approval=A.NEVER, sandbox=S.DANGER_FULL_ACCESS)
    assert heuristic["type"] == "forbidden"  # rule match, not heuristics
    assert _req(["/bin/rm", "-rf", "/x"], approval=A.NEVER)["reason"] == (
        "`/bin/rm -rf /x` rejected: policy forbids commands starting with `rm`"
    )
    only_heuristics = evaluate_exec(Policy(), ["rm", "-f", "x"], approval=A.NEVER)
    assert only_heuristics.requirement.reason == "`rm -f x` rejected: blocked by policy"


def test_wrapped_command_reason_quotes_the_original_argv() -> None:
    req = _req(["bash", "-lc", "git status && rm -rf /x"])
    assert req == {
        "type": "forbidden",
        "reason": "`bash -lc 'git status && rm -rf /x'` rejected: policy forbids commands "
        "starting with `rm`",
        "bypassSandbox": False,
        "proposedAmendment": None,
    }


def test_prompt_reasons_and_never() -> None:
    assert _req(["git", "push"]) == {
        "type": "needs_approval",
        "reason": "`git push` requires approval by policy",
        "bypassSandbox": False,
        "proposedAmendment": None,
    }
    assert (
        _req(["npm", "publish"])["reason"]
        == "`npm publish` requires approval: releases need review"
    )
    assert _req(["git", "push"], approval=A.NEVER) == {
        "type": "forbidden",
        "reason": "approval required by policy, but AskForApproval is set to Never",
        "bypassSandbox": False,
        "proposedAmendment": None,
    }
    heuristic = _req(["make"], approval=A.UNTRUSTED)
    assert heuristic == {
        "type": "needs_approval",
        "reason": None,
        "bypassSandbox": False,
        "proposedAmendment": ["make"],
    }


def test_bypass_sandbox_needs_an_explicit_allow_for_every_command() -> None:
    assert _req(["git", "status"])["bypassSandbox"] is True
    assert _req(["bash", "-lc", "git status && git status -s"])["bypassSandbox"] is True
    mixed = _req(["bash", "-lc", "git status && ls"])
    assert mixed["type"] == "skip" and mixed["bypassSandbox"] is False
    assert _req(["ls"])["bypassSandbox"] is False


def test_requested_prefix_amendments() -> None:
    ok = _req(
        ["cargo", "test", "--all"], approval=A.UNTRUSTED, requested_prefix_rule=["cargo", "test"]
    )
    assert ok["proposedAmendment"] == ["cargo", "test"]
    # too narrow: adding it would not allow the command -> fall back to heuristic argv
    narrow = _req(["cargo", "build"], approval=A.UNTRUSTED, requested_prefix_rule=["cargo", "test"])
    assert narrow["proposedAmendment"] == ["cargo", "build"]
    for banned in (["python3", "-c"], ["bash", "-lc"], ["git"], ["sudo"]):
        assert tuple(banned) in BANNED_PREFIX_SUGGESTIONS
        req = _req([*banned, "x"], approval=A.UNTRUSTED, requested_prefix_rule=banned)
        assert req["proposedAmendment"] != banned
    # a real rule matched -> no amendment at all
    assert _req(["git", "push"], requested_prefix_rule=["git", "push"])["proposedAmendment"] is None
    # complex parsing (heredoc) -> no amendment
    heredoc = _req(
        ["bash", "-lc", "python3 <<'P'\nx\nP"],
        approval=A.UNTRUSTED,
        requested_prefix_rule=["python3", "x"],
    )
    assert heredoc["type"] == "needs_approval" and heredoc["proposedAmendment"] is None
    # every split command must become allowed: ["make"] leaves `cargo test` prompting, so the
    # request is dropped and the first heuristic prompt is proposed instead
    split = _req(
        ["bash", "-lc", "cargo test && make"],
        approval=A.UNTRUSTED,
        requested_prefix_rule=["make"],
    )
    assert split["proposedAmendment"] == ["cargo", "test"]


def test_explain_json_shape() -> None:
    data = evaluate_exec(parse(RULES), ["bash", "-lc", "git status; make"]).to_json()
    assert list(data) == [
        "commands",
        "usedComplexParsing",
        "matchedRules",
        "decision",
        "requirement",
        "sandboxBypassAllowed",
        "notes",
    ]
    assert data["commands"] == [["git", "status"], ["make"]]
    assert data["matchedRules"][1] == {
        "heuristicsRuleMatch": {"command": ["make"], "decision": "allow"}
    }
