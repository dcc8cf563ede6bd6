"""A governed command: rules → approval → sandbox → result, the data path of ARCHITECTURE.md.

Order, for one command the model asks for:

1. **execpolicy** (through :meth:`Governance.decide`): ``forbidden`` is refused with the rule's
   justification and never runs; ``prompt`` (and heuristically unsafe commands under
   ``untrusted``) needs approval; an explicit ``allow`` may run outside the sandbox only where
   governance grants the bypass.
2. **approval policy** (spec runtime §7.1): a ``require_escalated`` request is refused outright
   under ``never`` (Codex's message), otherwise it needs approval; approval requests go to the
   session's reviewer (refused in headless `exec` with the ``user`` reviewer; decided by the
   guardian with ``auto_review``); "approve for session" remembers the exact argv.
3. **sandbox**: the command runs under bubblewrap in the session's sandbox mode, its only
   network exit the session proxy; an approved escalation runs without the sandbox (still with
   the secret-stripping environment). Under ``on-failure`` / ``on-request``, a run that the
   sandbox evidently denied is offered for a retry without the sandbox -- again via the reviewer.
4. **result**: exit code, wall time and head+tail truncated output go back to the model; the
   full (capped) output goes to the ``command_execution`` item.

Each step is exported (:mod:`.observability`): the rules' verdict (``codex.execpolicy.decision``),
who allowed or refused it (``codex.tool_decision``) and how the sandboxed run ended
(``codex.sandbox_outcome``).
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codex_admin.agent.approvals import ReviewContext, ShellApproval
from codex_admin.agent.calls import ToolResult
from codex_admin.agent.items import CommandExecutionItem, ItemStatus
from codex_admin.agent.lifecycle import CURRENT_CALL
from codex_admin.agent.output import format_exec_output, shell_output_json, shell_output_text
from codex_admin.agent.reviewers import DecisionSource, ReviewDecision
from codex_admin.errors import CodexError
from codex_admin.vocabulary import ApprovalPolicy, SandboxMode, SandboxPermissions

if TYPE_CHECKING:
    from codex_admin.agent.turn_context import TurnContext
    from codex_admin.sandbox import RunResult, SandboxPolicy

__all__ = ["CommandRequest", "looks_sandbox_denied", "run_governed_command"]

DEFAULT_TIMEOUT_MS = 10_000
ITEM_OUTPUT_LIMIT = 1024 * 1024  # what the command_execution item keeps (the model sees less)

NEVER_ESCALATE = (
    "approval policy is Never; reject command — you cannot ask for escalated permissions if "
    "the approval policy is Never"
)
_DENIAL_MARKERS = (
    "operation not permitted",
    "permission denied",
    "read-only file system",
    "seccomp",
    "sandbox",
    "bwrap",
)


@dataclass(frozen=True)
class CommandRequest:
    """A shell call as the model made it (after argument parsing)."""

    argv: tuple[str, ...]
    workdir: Path
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    permissions: SandboxPermissions = SandboxPermissions.USE_DEFAULT
    justification: str | None = None
    prefix_rule: tuple[str, ...] | None = None


def looks_sandbox_denied(result: RunResult, output: str) -> bool:
    """Did the sandbox (not the command's own logic) make it fail? Codex's heuristic."""
    if not result.sandboxed or result.exit_code == 0 or result.timed_out:
        return False
    lowered = output.lower()
    return any(marker in lowered for marker in _DENIAL_MARKERS)


async def run_governed_command(ctx: TurnContext, request: CommandRequest) -> ToolResult:
    """Decide, ask, run and report one command (see the module docstring)."""
    governance = ctx.governance
    observe = ctx.services.observe
    item = CommandExecutionItem(ctx.new_id(), command=shlex.join(request.argv))
    escalate = request.permissions is SandboxPermissions.REQUIRE_ESCALATED
    if escalate and ctx.approval_policy is ApprovalPolicy.NEVER:
        return _declined(ctx, item, NEVER_ESCALATE)
    decision = governance.decide(
        request.argv,
        permissions=request.permissions,
        requested_prefix_rule=request.prefix_rule,
    )
    observe.execpolicy(request.argv, decision)
    requirement = decision.requirement
    if requirement.kind == "forbidden":
        return _declined(ctx, item, requirement.reason or "command rejected by policy")
    # The rules judged the argv, never the directory: elsewhere the same command may read
    # configuration the sandbox could write (`git status` in a /tmp repository whose
    # core.fsmonitor names a program), so an allow bypasses the sandbox only in the cwd.
    unsandboxed = (
        requirement.kind == "skip" and requirement.bypass_sandbox and request.workdir == ctx.cwd
    )
    forced = CURRENT_CALL.get()
    hook_asks = forced is not None and forced.force_approval
    if requirement.kind == "needs_approval" or (escalate and not unsandboxed) or hook_asks:
        reason = requirement.reason or (
            "the command asks to run outside the sandbox"
            if escalate
            else (forced.approval_reason if hook_asks and forced else None)
            or "the command is not known to be safe"
        )
        if ctx.approval_policy is ApprovalPolicy.NEVER:
            return _declined(ctx, item, "approval required, but AskForApproval is set to Never")
        refusal = await _approve(ctx, request, reason, retry_reason=None)
        if refusal is not None:
            return _declined(ctx, item, refusal, by_config=False)
        unsandboxed = unsandboxed or escalate
    else:
        observe.approved_by_config()
    ctx.start(item)
    try:
        result, output = await _run(ctx, request, sandboxed=not unsandboxed)
        first = result
        denied = not unsandboxed and looks_sandbox_denied(result, output)
        escalated = False
        if denied and ctx.approval_policy in (ApprovalPolicy.ON_FAILURE, ApprovalPolicy.ON_REQUEST):
            refusal = await _approve(
                ctx,
                request,
                "the sandbox denied the command",
                retry_reason="command failed in the sandbox; retry without the sandbox?",
            )
            if refusal is None:
                result, output = await _run(ctx, request, sandboxed=False)
                escalated = True
    except CodexError as err:
        # It could not start (a workdir that does not exist, a directory it may not enter):
        # the model's to see, as Codex does -- never the end of the user's turn.
        item.status = ItemStatus.FAILED
        item.aggregated_output = str(err)
        ctx.complete(item)
        return ToolResult(str(err), success=False)
    observe.sandbox_outcome(
        "escalated" if escalated else "sandbox_denied" if denied else _outcome(first),
        initial_s=first.duration,
        escalated_s=result.duration if escalated else None,
        sandbox=(SandboxMode.DANGER_FULL_ACCESS if unsandboxed else ctx.sandbox_mode).value,
    )
    return _report(ctx, item, request, result, output)


def _outcome(result: RunResult) -> str:
    if result.timed_out:
        return "timeout"
    return "success" if result.exit_code == 0 else "failed"


async def _approve(
    ctx: TurnContext, request: CommandRequest, reason: str, *, retry_reason: str | None
) -> str | None:
    """None when approved; else the message the model gets. PermissionRequest hooks decide
    first; then the session's reviewer."""
    observe = ctx.services.observe
    if request.argv in ctx.services.approved_commands:
        observe.tool_decision(ReviewDecision.APPROVED_FOR_SESSION, DecisionSource.USER)
        return None
    hooked, hook_reason = await ctx.services.hooks.permission(ctx.turn_id)
    if hooked is True:
        return None
    if hooked is False:
        return hook_reason
    approval = ShellApproval(
        argv=request.argv,
        cwd=request.workdir,
        reason=reason,
        sandbox_permissions=request.permissions,
        justification=request.justification,
        prefix_rule=request.prefix_rule,
        retry_reason=retry_reason,
    )
    context = ReviewContext(
        thread_id=ctx.services.thread_id,
        turn_id=ctx.turn_id,
        transcript=ctx.history,
        sandbox_mode=ctx.sandbox_mode.value,
    )
    review = await ctx.services.reviewer.review(approval, context)
    observe.tool_decision(review.decision, review.source)
    if review.decision is ReviewDecision.ABORT:
        raise asyncio.CancelledError  # the reviewer aborted the turn
    if review.decision is ReviewDecision.APPROVED_FOR_SESSION:
        ctx.services.approved_commands.add(request.argv)
    if review.decision.approved:
        return None
    return review.message or "exec command rejected by user"


def _declined(
    ctx: TurnContext, item: CommandExecutionItem, message: str, *, by_config: bool = True
) -> ToolResult:
    """Refuse the command; ``by_config``: the rules or the approval policy refused it (a hook
    or reviewer refusal was exported where it was decided)."""
    if by_config:
        ctx.services.observe.denied_by_config()
    item.status = ItemStatus.DECLINED
    item.aggregated_output = message
    ctx.complete(item)
    return ToolResult(message, success=False)


def _policy(ctx: TurnContext, sandboxed: bool) -> SandboxPolicy:
    if sandboxed:
        return ctx.governance.sandbox_policy()
    return ctx.governance.sandbox_policy(sandbox=SandboxMode.DANGER_FULL_ACCESS)


async def _run(
    ctx: TurnContext, request: CommandRequest, *, sandboxed: bool
) -> tuple[RunResult, str]:
    running = ctx.services.running
    hook_env = ctx.services.hooks.env  # SessionStart hooks' environment for commands
    base = ctx.services.environ if ctx.services.environ is not None else ctx.governance.environ
    running.append(request.argv)
    try:
        result = await ctx.services.sandbox.run(
            _policy(ctx, sandboxed),
            list(request.argv),
            environ={**base, **hook_env},
            workdir=request.workdir,
            timeout=request.timeout_ms / 1000,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            output_limit=ITEM_OUTPUT_LIMIT,
        )
    finally:
        running.remove(request.argv)
    output = (result.stdout or b"").decode("utf-8", "replace")
    for warning in result.warnings:
        output += f"\n[codex sandbox] warning: {warning}"
    for repair in result.repairs:
        output += f"\n[codex sandbox] {repair.message()}"
    return result, output


def _report(
    ctx: TurnContext,
    item: CommandExecutionItem,
    request: CommandRequest,
    result: RunResult,
    output: str,
) -> ToolResult:
    item.aggregated_output = output
    item.exit_code = result.exit_code
    item.status = ItemStatus.COMPLETED if result.exit_code == 0 else ItemStatus.FAILED
    ctx.complete(item)
    shown = format_exec_output(output, result.exit_code, result.timed_out, request.timeout_ms)
    render = shell_output_text if ctx.services.freeform_apply_patch else shell_output_json
    return ToolResult(render(shown, result.exit_code, result.duration), result.exit_code == 0)
