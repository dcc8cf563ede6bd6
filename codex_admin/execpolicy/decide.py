"""What the governed runtime does with a command: skip, ask, or refuse (spec §7-8).

Era: core ``exec_policy.rs`` @0017bb4a/c1ff6221 (split, evaluate with basename resolution and the
heuristic fallback, map the decision with Codex's reason strings, propose amendments), plus two
newest additions: the "outer authority" rule for permission expansions (§8 rule 1) and the
"restrictive host rules" (§3.2, issue #37079) so that ``/tmp/git push`` or ``./git push`` cannot
escape a ``git push`` prompt/forbid. Granular approval policies and Windows/PowerShell unwrapping
are not modelled.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from codex_admin.execpolicy.delegation import delegated_commands
from codex_admin.execpolicy.heuristics import is_known_safe_command, might_be_dangerous
from codex_admin.execpolicy.model import (
    Decision,
    Evaluation,
    HeuristicsRuleMatch,
    PrefixRuleMatch,
    RuleMatch,
)
from codex_admin.execpolicy.policy import Policy
from codex_admin.execpolicy.shell import (
    extract_shell_script,
    parse_heredoc_command,
    parse_plain_commands,
)
from codex_admin.vocabulary import ApprovalPolicy, SandboxMode, SandboxPermissions

__all__ = [
    "BANNED_PREFIX_SUGGESTIONS",
    "ApprovalPolicy",
    "ExecDecision",
    "ExecRequirement",
    "SandboxMode",
    "SandboxPermissions",
    "commands_for_exec_policy",
    "evaluate_exec",
    "unmatched_command_decision",
]


BANNED_PREFIX_SUGGESTIONS: frozenset[tuple[str, ...]] = frozenset(
    tuple(s.split())
    for s in [
        "python3",
        "python3 -",
        "python3 -c",
        "python",
        "python -",
        "python -c",
        "py",
        "py -3",
        "pythonw",
        "pyw",
        "pypy",
        "pypy3",
        "git",
        "bash",
        "bash -lc",
        "sh",
        "sh -c",
        "sh -lc",
        "zsh",
        "zsh -lc",
        "/bin/zsh",
        "/bin/zsh -lc",
        "/bin/bash",
        "/bin/bash -lc",
        "pwsh",
        "pwsh -Command",
        "pwsh -c",
        "powershell",
        "powershell -Command",
        "powershell -c",
        "powershell.exe",
        "powershell.exe -Command",
        "powershell.exe -c",
        "env",
        "sudo",
        "node",
        "node -e",
        "perl",
        "perl -e",
        "ruby",
        "ruby -e",
        "php",
        "php -r",
        "lua",
        "lua -e",
        "osascript",
    ]
)


def commands_for_exec_policy(argv: Sequence[str]) -> tuple[list[list[str]], bool]:
    """Split a shell wrapper into its commands; returns (commands, used_complex_parsing)."""
    script = extract_shell_script(argv)
    if script is not None:
        plain = parse_plain_commands(script)
        if plain:
            return plain, False
        heredoc = parse_heredoc_command(script)
        if heredoc:
            return [heredoc], True
    return [list(argv)], False


def unmatched_command_decision(
    cmd: Sequence[str],
    approval: ApprovalPolicy,
    sandbox: SandboxMode,
    permissions: SandboxPermissions,
    used_complex_parsing: bool,
) -> Decision:
    """The heuristic verdict for a command no rule matched (§8, first applicable rule wins)."""
    never = approval is ApprovalPolicy.NEVER
    if (
        permissions is SandboxPermissions.WITH_ADDITIONAL_PERMISSIONS
        and sandbox is not SandboxMode.DANGER_FULL_ACCESS
    ) or (
        permissions is SandboxPermissions.REQUIRE_ESCALATED
        and sandbox is SandboxMode.EXTERNAL_SANDBOX
    ):
        return Decision.FORBIDDEN if never else Decision.PROMPT
    if (
        approval is ApprovalPolicy.UNTRUSTED
        and not used_complex_parsing
        and is_known_safe_command(cmd)
    ):
        return Decision.ALLOW
    if might_be_dangerous(cmd):
        return Decision.FORBIDDEN if never else Decision.PROMPT
    if approval in (ApprovalPolicy.NEVER, ApprovalPolicy.ON_FAILURE):
        return Decision.ALLOW
    if approval is ApprovalPolicy.UNTRUSTED:
        return Decision.PROMPT
    if sandbox.restricted and permissions is not SandboxPermissions.USE_DEFAULT:
        return Decision.PROMPT
    return Decision.ALLOW


@dataclass(frozen=True)
class ExecRequirement:
    """``skip`` (run; maybe outside the sandbox), ``needs_approval`` or ``forbidden``."""

    kind: str
    reason: str | None = None
    bypass_sandbox: bool = False
    proposed_amendment: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "reason": self.reason,
            "bypassSandbox": self.bypass_sandbox,
            "proposedAmendment": self.proposed_amendment,
        }


@dataclass(frozen=True)
class ExecDecision:
    argv: list[str]
    commands: list[list[str]]
    used_complex_parsing: bool
    evaluation: Evaluation
    requirement: ExecRequirement

    def to_json(self) -> dict[str, Any]:
        decision = self.evaluation.decision
        return {
            "commands": self.commands,
            "usedComplexParsing": self.used_complex_parsing,
            "matchedRules": [m.to_json() for m in self.evaluation.matched_rules],
            "decision": decision.value if decision else None,
            "requirement": self.requirement.to_json(),
        }


def _rule_matches(policy: Policy, cmd: Sequence[str]) -> list[PrefixRuleMatch]:
    found = policy.matches_for_command(cmd, resolve_host_executables=True)
    seen = {id(m.rule) for m in found}
    for extra in policy.restrictive_basename_matches(cmd):
        if id(extra.rule) not in seen:
            seen.add(id(extra.rule))
            found.append(extra)
    return found


def _evaluate(
    policy: Policy,
    commands: Sequence[Sequence[str]],
    approval: ApprovalPolicy,
    sandbox: SandboxMode,
    permissions: SandboxPermissions,
    used_complex_parsing: bool,
) -> tuple[Evaluation, list[bool], bool]:
    matches: list[RuleMatch] = []
    explicit_allow: list[bool] = []
    opaque = False
    for cmd in commands:
        found = _rule_matches(policy, cmd)
        nested, hidden = delegated_commands(cmd)
        opaque = opaque or hidden
        seen = {id(m.rule) for m in found}
        for sub in nested:
            for extra in _rule_matches(policy, sub):
                if extra.decision is not Decision.ALLOW and id(extra.rule) not in seen:
                    seen.add(id(extra.rule))
                    found.append(extra)
        if found:
            matches.extend(found)
            explicit_allow.append(Decision.strictest([m.decision for m in found]) is Decision.ALLOW)
        else:
            verdict = unmatched_command_decision(
                cmd, approval, sandbox, permissions, used_complex_parsing
            )
            matches.append(HeuristicsRuleMatch(list(cmd), verdict))
            explicit_allow.append(False)
    return Evaluation(matches), explicit_allow, opaque


def _longest(matches: list[RuleMatch], decision: Decision) -> PrefixRuleMatch | None:
    best: PrefixRuleMatch | None = None
    for match in matches:
        if (
            isinstance(match, PrefixRuleMatch)
            and match.decision is decision
            and (best is None or len(match.matched_prefix) > len(best.matched_prefix))
        ):
            best = match
    return best


def evaluate_exec(
    policy: Policy,
    argv: Sequence[str],
    *,
    approval: ApprovalPolicy = ApprovalPolicy.ON_REQUEST,
    sandbox: SandboxMode = SandboxMode.WORKSPACE_WRITE,
    permissions: SandboxPermissions = SandboxPermissions.USE_DEFAULT,
    requested_prefix_rule: Sequence[str] | None = None,
) -> ExecDecision:
    """Split, evaluate and map ``argv`` to an :class:`ExecRequirement` (§7)."""
    argv = list(argv)
    commands, complex_parsing = commands_for_exec_policy(argv)
    evaluation, explicit_allow, opaque = _evaluate(
        policy, commands, approval, sandbox, permissions, complex_parsing
    )
    decision = evaluation.decision or Decision.ALLOW
    shown = shlex.join(argv)
    matches = evaluation.matched_rules
    any_rule = evaluation.is_match

    def requested_amendment() -> list[str] | None:
        if complex_parsing or not requested_prefix_rule or any_rule:
            return None
        requested = list(requested_prefix_rule)
        if tuple(requested) in BANNED_PREFIX_SUGGESTIONS:
            return None
        trial = Policy()
        trial.add_prefix_rule(requested, Decision.ALLOW)
        trial_eval, _, _ = _evaluate(
            policy.merge_overlay(trial), commands, approval, sandbox, permissions, False
        )
        return requested if trial_eval.decision is Decision.ALLOW else None

    def first_heuristic(verdict: Decision) -> list[str] | None:
        for match in matches:
            if isinstance(match, HeuristicsRuleMatch) and match.decision is verdict:
                return match.command
        return None

    restrictive = opaque and any(r.decision is not Decision.ALLOW for r in policy.rules())
    if restrictive and decision is not Decision.FORBIDDEN:
        requirement = ExecRequirement(
            "forbidden",
            f"`{shown}` rejected: cannot completely inspect nested execution in this shell "
            "command while command policy rules are active",
        )
    elif decision is Decision.FORBIDDEN:
        rule = _longest(matches, Decision.FORBIDDEN)
        if rule is None:
            reason = f"`{shown}` rejected: blocked by policy"
        elif rule.justification is not None:
            reason = f"`{shown}` rejected: {rule.justification}"
        else:
            prefix = shlex.join(rule.matched_prefix)
            reason = f"`{shown}` rejected: policy forbids commands starting with `{prefix}`"
        requirement = ExecRequirement("forbidden", reason)
    elif decision is Decision.PROMPT:
        rule = _longest(matches, Decision.PROMPT)
        if approval is ApprovalPolicy.NEVER:
            requirement = ExecRequirement(
                "forbidden", "approval required by policy, but AskForApproval is set to Never"
            )
        else:
            if rule is None:
                reason = None
            elif rule.justification is not None:
                reason = f"`{shown}` requires approval: {rule.justification}"
            else:
                reason = f"`{shown}` requires approval by policy"
            amendment = requested_amendment()
            if amendment is None and rule is None and not complex_parsing:
                amendment = first_heuristic(Decision.PROMPT)
            requirement = ExecRequirement("needs_approval", reason, False, amendment)
    else:
        amendment = requested_amendment()
        if amendment is None and not any_rule and not complex_parsing:
            amendment = first_heuristic(Decision.ALLOW)
        requirement = ExecRequirement("skip", None, all(explicit_allow), amendment)
    return ExecDecision(argv, commands, complex_parsing, evaluation, requirement)
