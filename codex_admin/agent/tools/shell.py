"""A `shell` call (argv `command`, spec runtime §4) or a hosted `local_shell` call, handled.

The tool's definition is in :mod:`.shell_tool`. Arguments are validated here and the command
goes through :func:`~codex_admin.agent.execution.run_governed_command`. A shell call whose
script is an ``apply_patch <<'EOF' … EOF`` heredoc is intercepted and applied as a patch (with a
warning to use the tool), so a patch can never bypass the patch path's own checks by running as
a command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_admin.agent.calls import ToolArgumentError, ToolCall, ToolResult, parse_arguments
from codex_admin.agent.execution import DEFAULT_TIMEOUT_MS, CommandRequest, run_governed_command
from codex_admin.apply_patch import PatchError
from codex_admin.vocabulary import SandboxPermissions

if TYPE_CHECKING:
    from codex_admin.agent.turn_context import TurnContext

__all__ = ["HeredocFinder", "PatchRunner", "parse_shell_call", "run_shell_call"]

# (patch text, workdir) -> result: how an intercepted heredoc reaches the patch tool.
PatchRunner = Callable[["TurnContext", str, Path], Awaitable[ToolResult]]
HeredocFinder = Callable[[list[str]], "tuple[str, str | None] | None"]

MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ToolArgumentError(
            f"failed to parse function arguments: `{name}` must be an array of strings"
        )
    return tuple(value)


def parse_shell_call(call: ToolCall, cwd: Path) -> CommandRequest:
    """The call's arguments as a :class:`CommandRequest` (ToolArgumentError when malformed)."""
    if call.kind == "local_shell":
        action = parse_arguments(call)
        args: dict[str, Any] = {
            "command": action.get("command"),
            "workdir": action.get("working_directory"),
            "timeout_ms": action.get("timeout_ms"),
        }
    else:
        args = parse_arguments(call)
    argv = _strings(args.get("command"), "command")
    if not argv:
        raise ToolArgumentError("failed to parse function arguments: `command` is empty")
    workdir_text = args.get("workdir")
    if workdir_text is not None and not isinstance(workdir_text, str):
        raise ToolArgumentError("failed to parse function arguments: `workdir` must be a string")
    workdir = (cwd / workdir_text).resolve() if workdir_text else cwd
    timeout = args.get("timeout_ms")
    if timeout is None:
        timeout_ms = DEFAULT_TIMEOUT_MS
    elif isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0:
        timeout_ms = min(int(timeout), MAX_TIMEOUT_MS)
    else:
        raise ToolArgumentError("failed to parse function arguments: `timeout_ms` must be positive")
    try:
        permissions = SandboxPermissions(args.get("sandbox_permissions") or "use_default")
    except ValueError:
        raise ToolArgumentError(
            "failed to parse function arguments: `sandbox_permissions` must be use_default or "
            "require_escalated"
        ) from None
    justification = args.get("justification")
    prefix = args.get("prefix_rule")
    return CommandRequest(
        argv=argv,
        workdir=workdir,
        timeout_ms=timeout_ms,
        permissions=permissions,
        justification=justification if isinstance(justification, str) else None,
        prefix_rule=_strings(prefix, "prefix_rule") if prefix is not None else None,
    )


async def run_shell_call(
    call: ToolCall, ctx: TurnContext, find_heredoc: HeredocFinder, run_patch: PatchRunner
) -> ToolResult:
    """Run ``call``: a governed command, or -- for an ``apply_patch`` heredoc -- the patch,
    through ``run_patch``."""
    try:
        request = parse_shell_call(call, ctx.cwd)
        # A bare patch as the command is an error addressed to the model (Codex's
        # "patch detected without explicit call to apply_patch"), not to the user.
        heredoc = find_heredoc(list(request.argv))
    except (ToolArgumentError, PatchError) as err:
        return ToolResult(str(err), success=False)
    if heredoc is not None:
        patch, subdir = heredoc
        ctx.warn("apply_patch was requested via shell; use the apply_patch tool instead")
        workdir = (request.workdir / subdir).resolve() if subdir else request.workdir
        return await run_patch(ctx, patch, workdir)
    return await run_governed_command(ctx, request)
