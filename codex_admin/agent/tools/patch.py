"""The `apply_patch` tool: a patch is a write, governed like one (spec runtime §5, issue 13).

Order: parse (a bad patch changes nothing; Codex's message goes to the model) → judge every
target against the session's write boundaries (``..`` and symlinks of every component resolved:
a symlink leaving the writable roots, a ``deny_read`` path or a special file is refused; a path
outside the roots, a protected name at any depth, $CODEX_HOME or the system dir needs approval)
→ preview (diffs and the ``(path, kind)`` list, nothing written) → approval when needed (the
approval policy decides; ``never`` refuses) → commit **atomically** (all or nothing, and refused
if any target moved or changed since the preview, so an approval covers exactly the bytes
written). The standalone `codex apply-patch` keeps Codex's non-atomic default; the agent never
leaves a half-applied patch behind. Who allowed or refused it is exported as
``codex.tool_decision`` (:mod:`codex_admin.agent.observability`).

The tool the model sees is :class:`~.patch_tool.PatchTool`; this module (and the patch engine
behind it) loads with the first patch, not at start-up.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_admin.agent.approvals import PatchApproval, ReviewContext
from codex_admin.agent.calls import ToolResult
from codex_admin.agent.items import FileChange, FileChangeItem, ItemStatus
from codex_admin.agent.lifecycle import CURRENT_CALL
from codex_admin.agent.reviewers import ReviewDecision
from codex_admin.apply_patch import (
    LocalFileSystem,
    PatchError,
    TargetPolicy,
    Verdict,
    check_targets,
    commit,
    parse,
    preview,
)
from codex_admin.vocabulary import ApprovalPolicy

if TYPE_CHECKING:
    from codex_admin.agent.turn_context import TurnContext

__all__ = ["apply_patch_governed"]

NEVER_ASK = (
    "patch rejected: it writes outside the sandbox's writable roots (or to a protected path), "
    "which needs approval, and the approval policy is never"
)


def _policy(ctx: TurnContext) -> TargetPolicy:
    bounds = ctx.governance.write_boundaries()
    return TargetPolicy(
        writable_roots=bounds.writable_roots,
        protected_names=bounds.protected_names,
        protected_paths=bounds.protected_paths,
        deny_read=bounds.deny_read,
    )


async def apply_patch_governed(ctx: TurnContext, text: str, workdir: Path) -> ToolResult:
    """Parse, judge, preview, approve and atomically apply ``text`` in ``workdir``."""
    try:
        patch = parse(text)
    except PatchError as err:
        return ToolResult(str(err), success=False)
    fs = LocalFileSystem(workdir)
    policy = _policy(ctx)
    report = check_targets(patch, fs, policy)
    observe = ctx.services.observe
    if report.verdict is Verdict.DENY:
        observe.denied_by_config()
        return ToolResult("patch rejected: " + "; ".join(report.reasons), success=False)
    try:
        changes = preview(patch, fs)
    except PatchError as err:
        return ToolResult(str(err), success=False)
    item = FileChangeItem(
        ctx.new_id(),
        changes=[
            FileChange(str(path), kind.value, change.diff)
            for (path, kind), change in zip(changes.change_kinds(), changes.changes, strict=True)
        ],
    )
    ctx.start(item)
    forced = CURRENT_CALL.get()
    if report.verdict is Verdict.ASK or (forced is not None and forced.force_approval):
        refusal = await _approve(ctx, workdir, text, changes.change_kinds(), report.reasons)
        if refusal is not None:
            item.status = ItemStatus.DECLINED
            ctx.complete(item)
            return ToolResult(refusal, success=False)
    else:
        observe.approved_by_config()
    try:
        result = commit(changes, fs, checked=report)
    except PatchError as err:
        item.status = ItemStatus.FAILED
        ctx.complete(item)
        return ToolResult(str(err), success=False)
    item.status = ItemStatus.COMPLETED
    ctx.complete(item)
    output = result.success_text
    if result.warnings:
        output += "\n" + "\n".join(result.warnings)
    return ToolResult(output)


async def _approve(
    ctx: TurnContext,
    workdir: Path,
    text: str,
    kinds: list[tuple[str, Any]],
    reasons: list[str],
) -> str | None:
    if ctx.approval_policy is ApprovalPolicy.NEVER:
        ctx.services.observe.denied_by_config()
        return NEVER_ASK
    hooked, hook_reason = await ctx.services.hooks.permission(ctx.turn_id)
    if hooked is True:
        return None
    if hooked is False:
        return hook_reason
    approval = PatchApproval(
        cwd=workdir,
        files=tuple(path for path, _ in kinds),
        patch=text,
        reason="; ".join(reasons) or "the patch writes outside the writable roots",
    )
    context = ReviewContext(
        thread_id=ctx.services.thread_id,
        turn_id=ctx.turn_id,
        transcript=ctx.history,
        sandbox_mode=ctx.sandbox_mode.value,
    )
    review = await ctx.services.reviewer.review(approval, context)
    ctx.services.observe.tool_decision(review.decision, review.source)
    if review.decision is ReviewDecision.ABORT:
        raise asyncio.CancelledError  # the reviewer aborted the turn
    if review.decision.approved:
        return None
    return review.message or "patch rejected by user"
