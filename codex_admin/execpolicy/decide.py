"""What the governed runtime does with a command: skip, ask, or refuse (spec §7-8).

Era: core ``exec_policy.rs`` @0017bb4a/c1ff6221 (split, evaluate with basename resolution and the
heuristic fallback, map the decision with Codex's reason strings, propose amendments), plus the
newest "outer authority" rule for permission expansions (§8 rule 1) and "restrictive host rules"
(§3.2, issue #37079). Granular approval policies and PowerShell unwrapping are not modelled.

Beyond Codex, closing the attack classes of issue 10:

* **Restrictions see through everything** (:mod:`analysis`, :mod:`guard`): wrappers (``sudo
  -Eu root``, ``env -iS``, ``setpriv``, ``flock``, ``script -qc``, ``find -exec``...), every POSIX
  shell, scripts scanned completely with each word's run-time value (``git pu\\sh`` *is*
  ``git push``), git's global options and command-line aliases, option-prefixed subcommands.
* **Opaque means ask**: when prompt or forbidden rules exist and a command runs something the
  analysis cannot see (a computed word where a restrictive rule could apply, a computed command
  name, a script file, a git alias from a config file, ``BASH_ENV``...), it is never skipped: it
  needs approval (refused under ``never``), with the reason.
* **Running outside the sandbox is a narrow privilege**: only when the caller permits it
  (``sandbox_bypass``: governance turns it off while requirements constrain the filesystem or
  network), every command *and every command it delegates to* has its own explicit ``allow``, no
  allow is voided by an option that runs programs or writes files (:mod:`unsafe`), and the
  analysis found nothing it could not see.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from codex_admin.execpolicy.analysis import Invocation, analyse, invocation_of
from codex_admin.execpolicy.guard import restrictive_findings
from codex_admin.execpolicy.heuristics import is_known_safe_command, might_be_dangerous
from codex_admin.execpolicy.model import (
    Decision,
    Evaluation,
    HeuristicsRuleMatch,
    PrefixRuleMatch,
    RuleMatch,
)
from codex_admin.execpolicy.policy import Policy
from codex_admin.execpolicy.scan import scan_script
from codex_admin.execpolicy.shell import (
    extract_shell_script,
    parse_heredoc_command,
    parse_plain_commands,
)
from codex_admin.execpolicy.unsafe import unsafe_option
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
    """The evaluation behind a requirement. ``notes`` say what the analysis could not see and
    which allow rules it ignored; ``sandbox_bypass_allowed`` is what the caller permitted."""

    argv: list[str]
    commands: list[list[str]]
    used_complex_parsing: bool
    evaluation: Evaluation
    requirement: ExecRequirement
    notes: list[str] = field(default_factory=list)
    sandbox_bypass_allowed: bool = True

    def to_json(self) -> dict[str, Any]:
        decision = self.evaluation.decision
        return {
            "commands": self.commands,
            "usedComplexParsing": self.used_complex_parsing,
            "matchedRules": [m.to_json() for m in self.evaluation.matched_rules],
            "decision": decision.value if decision else None,
            "requirement": self.requirement.to_json(),
            "sandboxBypassAllowed": self.sandbox_bypass_allowed,
            "notes": self.notes,
        }


def _rule_matches(policy: Policy, cmd: Sequence[str]) -> list[PrefixRuleMatch]:
    found = policy.matches_for_command(cmd, resolve_host_executables=True)
    seen = {id(m.rule) for m in found}
    for extra in policy.restrictive_basename_matches(cmd):
        if id(extra.rule) not in seen:
            seen.add(id(extra.rule))
            found.append(extra)
    return found


@dataclass
class _Context:
    policy: Policy
    approval: ApprovalPolicy
    sandbox: SandboxMode
    permissions: SandboxPermissions
    used_complex_parsing: bool
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def _without_voided(
    ctx: _Context, cmd: Sequence[str], found: list[PrefixRuleMatch]
) -> list[PrefixRuleMatch]:
    """Drop allow matches an exec/write option voids (:mod:`unsafe`), saying so."""
    if not any(m.decision is Decision.ALLOW for m in found):
        return found
    reason = unsafe_option(cmd)
    if reason is None:
        return found
    for m in found:
        if m.decision is Decision.ALLOW and m.rule is not None:
            where = m.rule.source or "from the amendment"
            ctx.note(f"allow rule {where} ignored for `{shlex.join(cmd)}`: {reason}")
    return [m for m in found if m.decision is not Decision.ALLOW]


def _command_matches(
    ctx: _Context, cmd: Sequence[str], *, heuristics_cmd: Sequence[str] | None = None
) -> tuple[list[RuleMatch], bool]:
    """Codex's evaluation of one command (rules, else the heuristic fallback); whether an
    explicit, unvoided allow rule alone decided it."""
    found = _without_voided(ctx, cmd, _rule_matches(ctx.policy, cmd))
    if found:
        allowed = Decision.strictest([m.decision for m in found]) is Decision.ALLOW
        return list(found), allowed
    target = list(heuristics_cmd if heuristics_cmd is not None else cmd)
    verdict = unmatched_command_decision(
        target, ctx.approval, ctx.sandbox, ctx.permissions, ctx.used_complex_parsing
    )
    return [HeuristicsRuleMatch(target, verdict)], False


@dataclass
class _Outcome:
    matches: list[RuleMatch]
    explicit_allow: list[bool]
    problems: list[str]


def _evaluate(
    ctx: _Context,
    commands: Sequence[Sequence[str]],
    roots: Sequence[Invocation],
    root_problems: Sequence[str] = (),
) -> _Outcome:
    policy = ctx.policy
    matches: list[RuleMatch] = []
    explicit_allow: list[bool] = []
    per_command: list[set[int]] = []
    for cmd in commands:
        found, allowed = _command_matches(ctx, cmd)
        matches.extend(found)
        explicit_allow.append(allowed)
        per_command.append({id(m.rule) for m in found if isinstance(m, PrefixRuleMatch)})
    analysis = analyse(list(roots), policy.restricted_programs())
    problems = [*root_problems, *(p for p in analysis.problems if p not in root_problems)]
    reached_allowed = True
    for index, root in enumerate(roots):
        counted = per_command[index] if len(roots) == len(commands) else set()
        _restrict(policy, root, counted, matches, problems)
    for invocation in [*analysis.invocations, *analysis.normalized]:
        counted = set()
        if invocation.direct and invocation.via != "git":
            literal = invocation.literal_prefix()
            found, allowed = _command_matches(ctx, literal, heuristics_cmd=invocation.texts)
            reached_allowed = reached_allowed and allowed and not invocation.dynamic
            matches.extend(found)
            counted = {id(m.rule) for m in found if isinstance(m, PrefixRuleMatch)}
        else:
            reached_allowed = False
        _restrict(policy, invocation, counted, matches, problems)
    if not reached_allowed or problems:
        explicit_allow = [False] * len(explicit_allow)
    return _Outcome(matches, explicit_allow, problems)


def _restrict(
    policy: Policy,
    invocation: Invocation,
    counted: set[int],
    matches: list[RuleMatch],
    problems: list[str],
) -> None:
    """Add the guard's restrictive matches (not already counted for this invocation)."""
    extra, more = restrictive_findings(policy, invocation)
    for match in extra:
        if id(match.rule) not in counted:
            counted.add(id(match.rule))
            matches.append(match)
    problems.extend(p for p in more if p not in problems)


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


def _writable(tokens: Sequence[str]) -> bool:
    """Whether an amendment with these tokens can be written (rules files are UTF-8)."""
    try:
        "".join(tokens).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _roots(
    argv: list[str], commands: list[list[str]], complex_parsing: bool
) -> tuple[list[Invocation], list[str]]:
    """What the security analysis starts from, and the problems of a split script: the split
    commands when the script was plain (with what feeds their stdin: ``echo x | sh``), else the
    whole argv (its script is then scanned completely)."""
    if complex_parsing or commands == [argv]:
        return [invocation_of(argv)], []
    script = extract_shell_script(argv)
    if script is None:
        return [invocation_of(cmd) for cmd in commands], []
    scan = scan_script(script)
    if [[w.text for w in c.words] for c in scan.commands] == commands:
        roots = [
            Invocation(c.words, None, True, tuple(c.assignments), c.stdin, c.stdin_dynamic)
            for c in scan.commands
        ]
        return roots, scan.problems
    return [invocation_of(cmd) for cmd in commands], scan.problems


def evaluate_exec(
    policy: Policy,
    argv: Sequence[str],
    *,
    approval: ApprovalPolicy = ApprovalPolicy.ON_REQUEST,
    sandbox: SandboxMode = SandboxMode.WORKSPACE_WRITE,
    permissions: SandboxPermissions = SandboxPermissions.USE_DEFAULT,
    requested_prefix_rule: Sequence[str] | None = None,
    sandbox_bypass: bool = True,
) -> ExecDecision:
    """Split, evaluate and map ``argv`` to an :class:`ExecRequirement` (§7).

    ``sandbox_bypass=False`` forbids running outside the sandbox whatever the rules say (the
    caller's requirements constrain the filesystem or network).
    """
    argv = list(argv)
    commands, complex_parsing = commands_for_exec_policy(argv)
    ctx = _Context(policy, approval, sandbox, permissions, complex_parsing)
    roots, root_problems = _roots(argv, commands, complex_parsing)
    outcome = _evaluate(ctx, commands, roots, root_problems)
    evaluation = Evaluation(outcome.matches)
    decision = evaluation.decision or Decision.ALLOW
    shown = shlex.join(argv)
    matches = evaluation.matched_rules
    any_rule = evaluation.is_match
    opaque = bool(outcome.problems) and policy.has_restrictive_rules
    notes = [*ctx.notes, *(f"cannot inspect: {p}" for p in outcome.problems)]

    def requested_amendment() -> list[str] | None:
        if complex_parsing or not requested_prefix_rule or any_rule or opaque:
            return None
        requested = list(requested_prefix_rule)
        if tuple(requested) in BANNED_PREFIX_SUGGESTIONS or not _writable(requested):
            return None
        trial = Policy()
        trial.add_prefix_rule(requested, Decision.ALLOW)
        trial_ctx = _Context(policy.merge_overlay(trial), approval, sandbox, permissions, False)
        trial_outcome = _evaluate(trial_ctx, commands, roots, root_problems)
        trial_decision = Evaluation(trial_outcome.matches).decision
        return requested if trial_decision is Decision.ALLOW else None

    def first_heuristic(verdict: Decision) -> list[str] | None:
        for match in matches:
            if isinstance(match, HeuristicsRuleMatch) and match.decision is verdict:
                return match.command if _writable(match.command) else None
        return None

    never = approval is ApprovalPolicy.NEVER
    reason: str | None
    if decision is Decision.FORBIDDEN:
        rule = _longest(matches, Decision.FORBIDDEN)
        if rule is None:
            reason = f"`{shown}` rejected: blocked by policy"
        elif rule.justification is not None:
            reason = f"`{shown}` rejected: {rule.justification}"
        else:
            prefix = shlex.join(rule.matched_prefix)
            reason = f"`{shown}` rejected: policy forbids commands starting with `{prefix}`"
        requirement = ExecRequirement("forbidden", reason)
    elif decision is Decision.PROMPT or opaque:
        rule = _longest(matches, Decision.PROMPT) if decision is Decision.PROMPT else None
        hidden = (
            "cannot completely inspect it while command rules prompt or forbid: "
            f"{outcome.problems[0]}"
            if opaque
            else ""
        )
        if never:
            text = (
                "approval required by policy, but AskForApproval is set to Never"
                if rule is not None or not opaque
                else f"`{shown}` rejected: {hidden}"
            )
            requirement = ExecRequirement("forbidden", text)
        else:
            if rule is not None:
                reason = (
                    f"`{shown}` requires approval: {rule.justification}"
                    if rule.justification is not None
                    else f"`{shown}` requires approval by policy"
                )
            elif opaque:
                reason = f"`{shown}` requires approval: {hidden}"
            else:
                reason = None
            amendment = requested_amendment()
            if amendment is None and rule is None and not complex_parsing and not opaque:
                amendment = first_heuristic(Decision.PROMPT)
            requirement = ExecRequirement("needs_approval", reason, False, amendment)
    else:
        amendment = requested_amendment()
        if amendment is None and not any_rule and not complex_parsing:
            amendment = first_heuristic(Decision.ALLOW)
        bypass = sandbox_bypass and bool(outcome.explicit_allow) and all(outcome.explicit_allow)
        requirement = ExecRequirement("skip", None, bypass, amendment)
    return ExecDecision(
        argv, commands, complex_parsing, evaluation, requirement, notes, sandbox_bypass
    )
