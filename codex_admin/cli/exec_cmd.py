"""`codex exec [OPTIONS] [PROMPT|-]` and `codex exec resume [ID|--last] [--all] [PROMPT|-]`.

Headless runs exactly as Codex's exec (spec runtime §2): prompt from the argument and/or stdin,
the git-repo guard, human progress on stderr with the final message on stdout, or `--json`
JSONL events on stdout; `-o` writes the last agent message; `--output-schema` asks for JSON.
Approvals are forced to ``never`` -- except that `-a on-request` is honoured when
``approvals_reviewer = "auto_review"``, because then no human is needed. Ctrl-C interrupts the
turn (its commands' process groups are killed); a second Ctrl-C exits at once. Exit status 1
when the turn failed or was interrupted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import (
    CwdOpt,
    ModelOpt,
    OssOpt,
    OverrideOpt,
    ProfileOpt,
    SandboxOpt,
    governance_request,
)
from codex_admin.cli.exec_run import COLORS, ExecArgs, run_exec_cli

app = make_app(None, invoke_without_command=True)  # help: the callback docstring

PromptArg = Annotated[
    str | None,
    typer.Argument(
        help="Instructions for the agent; `-` or absent reads stdin", show_default=False
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "-o", "--output-last-message", metavar="FILE", help="Write the last agent message to FILE"
    ),
]
SchemaOpt = Annotated[
    Path | None,
    typer.Option(
        "--output-schema", metavar="FILE", help="JSON Schema the final message must match"
    ),
]
ColorOpt = Annotated[str, typer.Option("--color", metavar="WHEN", help="always | never | auto")]
ApprovalOpt = Annotated[
    str | None,
    typer.Option(
        "-a",
        "--ask-for-approval",
        metavar="POLICY",
        help="Only `on-request` with approvals_reviewer=auto_review",
    ),
]
AddDirOpt = Annotated[
    list[Path] | None,
    typer.Option("--add-dir", metavar="DIR", help="Extra writable root (repeatable)"),
]
YoloOpt = Annotated[
    bool,
    typer.Option(
        "--dangerously-bypass-approvals-and-sandbox",
        "--yolo",
        help="No sandbox, no approvals (requirements still apply)",
    ),
]


@app.callback()
def exec_(
    prompt: PromptArg = None,
    json_out: Annotated[
        bool, typer.Option("--json", "--experimental-json", help="Print JSONL events on stdout")
    ] = False,
    output_last_message: OutputOpt = None,
    output_schema: SchemaOpt = None,
    color: ColorOpt = "auto",
    skip_git_repo_check: Annotated[
        bool, typer.Option("--skip-git-repo-check", help="Run outside a Git repository")
    ] = False,
    ephemeral: Annotated[
        bool, typer.Option("--ephemeral", help="Do not record the session")
    ] = False,
    image: Annotated[
        list[Path] | None,
        typer.Option("-i", "--image", metavar="FILE", help="Attach an image (repeatable)"),
    ] = None,
    model: ModelOpt = None,
    profile: ProfileOpt = None,
    sandbox: SandboxOpt = None,
    approval: ApprovalOpt = None,
    config: OverrideOpt = None,
    oss: OssOpt = False,
    local_provider: Annotated[
        str | None,
        typer.Option("--local-provider", metavar="NAME", help="lmstudio | ollama (with --oss)"),
    ] = None,
    add_dir: AddDirOpt = None,
    cwd: CwdOpt = None,
    yolo: YoloOpt = False,
    full_auto: Annotated[
        bool, typer.Option("--full-auto", help="Deprecated: use --sandbox workspace-write")
    ] = False,
    ignore_user_config: Annotated[
        bool, typer.Option("--ignore-user-config", help="Do not load $CODEX_HOME/config.toml")
    ] = False,
    ignore_rules: Annotated[
        bool, typer.Option("--ignore-rules", help="Do not load user and project *.rules")
    ] = False,
) -> None:
    """Run one turn of the agent headlessly; print its final message (or JSONL with --json).

    Example: codex exec --json -s workspace-write "fix the failing test"
    """
    if color not in COLORS:
        raise typer.BadParameter(
            f"{color!r} is not one of always, never, auto", param_hint="--color"
        )
    args = ExecArgs(
        prompt=prompt,
        json_out=json_out,
        output_last_message=output_last_message,
        output_schema=output_schema,
        color=color,
        skip_git_repo_check=skip_git_repo_check,
        ephemeral=ephemeral,
        images=image or [],
        model=model,
        profile=profile,
        sandbox=sandbox,
        approval=approval,
        overrides=config or [],
        oss=oss,
        local_provider=local_provider,
        add_dirs=add_dir or [],
        cwd=cwd,
        yolo=yolo,
        full_auto=full_auto,
        ignore_user_config=ignore_user_config,
        ignore_rules=ignore_rules,
    )
    _check_choices(args)
    raise typer.Exit(run_exec_cli(args))


resume_app = make_app(None, invoke_without_command=True)  # help: the callback docstring


@resume_app.callback()
def resume(
    session_id: Annotated[
        str | None, typer.Argument(help="Thread id (or the prompt with --last)")
    ] = None,
    prompt: PromptArg = None,
    last: Annotated[bool, typer.Option("--last", help="Resume the most recent session")] = False,
    all_dirs: Annotated[
        bool, typer.Option("--all", help="Consider sessions from every directory")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSONL events on stdout")] = False,
    output_last_message: OutputOpt = None,
    color: ColorOpt = "auto",
    skip_git_repo_check: Annotated[bool, typer.Option("--skip-git-repo-check")] = False,
    model: ModelOpt = None,
    sandbox: SandboxOpt = None,
    config: OverrideOpt = None,
    cwd: CwdOpt = None,
) -> None:
    """Continue a session recorded under $CODEX_HOME/sessions with a new prompt.

    Example: codex exec resume --last "now add tests"
    """
    if last and session_id is not None and prompt is None:
        session_id, prompt = None, session_id
    if not last and session_id is None:
        raise typer.BadParameter("give a session id or --last", param_hint="SESSION_ID")
    if color not in COLORS:
        raise typer.BadParameter(
            f"{color!r} is not one of always, never, auto", param_hint="--color"
        )
    args = ExecArgs(
        prompt=prompt,
        json_out=json_out,
        output_last_message=output_last_message,
        color=color,
        skip_git_repo_check=skip_git_repo_check,
        model=model,
        sandbox=sandbox,
        overrides=config or [],
        cwd=cwd,
        resume=(session_id, all_dirs),
    )
    _check_choices(args)
    raise typer.Exit(run_exec_cli(args))


def _check_color(color: str) -> None:
    if color not in COLORS:
        raise typer.BadParameter(
            f"{color!r} is not one of {', '.join(COLORS)}", param_hint="--color"
        )


def _check_choices(args: ExecArgs) -> None:
    """Usage errors typer's types do not catch (exit 2 with click's message)."""
    governance_request(sandbox=args.sandbox, approval=args.approval)  # raises BadParameter
