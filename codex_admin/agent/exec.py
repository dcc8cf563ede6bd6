"""The headless driver behind `codex exec`: one prompt, one turn, events to a renderer.

It is a front-end of the core like any other -- it only submits (the prompt, an interrupt,
shutdown) and consumes events -- plus the two exec-only policies: approvals forced to
``never`` (unless the auto-reviewer can answer ``on-request``), and the git-repository guard.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from codex_admin.agent.bootstrap import SessionOptions, open_session, session_summary
from codex_admin.agent.events import Event, TurnCompleted, TurnFailed
from codex_admin.agent.submissions import Interrupt, Shutdown, UserInput
from codex_admin.errors import CodexError
from codex_admin.governance import Governance, GovernanceRequest
from codex_admin.vocabulary import ApprovalPolicy

__all__ = ["ExecOutcome", "Renderer", "decide_exec_approval", "git_guard", "run_exec"]


class Renderer(Protocol):
    def header(self, lines: Sequence[tuple[str, str]], prompt: str) -> None: ...

    def notice(self, text: str) -> None: ...

    def event(self, event: Event) -> None: ...


@dataclass(frozen=True)
class ExecOutcome:
    """How an exec run ended: success, its final message, interrupted."""

    ok: bool
    last_message: str | None
    interrupted: bool = False


def decide_exec_approval(
    request: GovernanceRequest,
    approval: str | None,
    load: Callable[[GovernanceRequest], Governance],
) -> tuple[Governance, str | None]:
    """Headless runs cannot ask a human: the approval policy is ``never``, except that
    ``-a on-request`` is honoured when the auto-reviewer answers instead. Returns the
    governance and, when ``-a`` was not honoured as given, a note saying which policy is in
    force."""
    allowed = (ApprovalPolicy.NEVER.value, ApprovalPolicy.ON_REQUEST.value)
    if approval is not None and approval not in allowed:
        raise CodexError(
            f"codex exec cannot use -a {approval}: nobody can answer approval prompts here",
            hint='use -a on-request with approvals_reviewer = "auto_review", or omit -a',
        )

    def with_policy(policy: ApprovalPolicy) -> GovernanceRequest:
        return replace(request, flags=replace(request.flags, approval=policy.value))

    governance = load(with_policy(ApprovalPolicy.NEVER))
    if approval != ApprovalPolicy.ON_REQUEST.value:
        return governance, None
    if not governance.reviewer.is_auto:
        return governance, (
            '-a on-request needs approvals_reviewer = "auto_review" in codex exec (no human '
            "can answer); the approval policy in force is never"
        )
    return load(with_policy(ApprovalPolicy.ON_REQUEST)), None


def git_guard(cwd: Path, project_trust: str | None, message: str) -> None:
    """Refuse to run outside a Git repository unless the directory is trusted (Codex)."""
    if project_trust == "trusted":
        return
    for folder in (cwd, *cwd.parents):
        if (folder / ".git").exists():
            return
    raise CodexError(message)


def _image_item(path: Path) -> dict[str, str]:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CodexError(f"cannot read image {path}: {err.strerror}") from None
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if not mime.startswith("image/"):
        raise CodexError(f"{path} is not an image (type {mime})", hint="attach PNG, JPEG or GIF")
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "input_image", "image_url": url}


async def run_exec(
    governance: Governance,
    options: SessionOptions,
    prompt: str,
    renderer: Renderer,
    *,
    warnings: Sequence[str] = (),
    images: Sequence[Path] = (),
    interrupt: asyncio.Event | None = None,
) -> ExecOutcome:
    """Run ``prompt`` as one turn; render every event; report how it ended."""
    attachments = tuple(_image_item(path) for path in images)
    async with open_session(governance, options) as session:
        renderer.header(session_summary(governance, session), prompt)
        for warning in warnings:
            session.warn(warning)
        await session.submit(UserInput(prompt, attachments))
        watcher = None
        if interrupt is not None:

            async def watch() -> None:
                await interrupt.wait()
                await session.submit(Interrupt())

            watcher = asyncio.create_task(watch())
        outcome = ExecOutcome(False, None)
        try:
            async for event in session.events():
                renderer.event(event)
                if isinstance(event, TurnCompleted):
                    outcome = ExecOutcome(True, event.last_agent_message)
                elif isinstance(event, TurnFailed):
                    outcome = ExecOutcome(False, None, event.interrupted)
                else:
                    continue
                await session.submit(Shutdown())
                break
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
    # What the session reported while closing (e.g. telemetry that could not be exported:
    # warnings, never errors of the run).
    for event in session.pending_events():
        renderer.event(event)
    return outcome
