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

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

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
from codex_admin.errors import CodexError

app = make_app("Run the governed agent non-interactively.", invoke_without_command=True)

NOT_TRUSTED = "Not inside a trusted directory and --skip-git-repo-check was not specified."

PromptArg = Annotated[
    str | None,
    typer.Argument(
        help="Instructions for the agent; `-` or absent reads stdin", show_default=False
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("-o", "--output-last-message", help="Write the last agent message to FILE"),
]
SchemaOpt = Annotated[
    Path | None, typer.Option("--output-schema", help="JSON Schema the final message must match")
]
ColorOpt = Annotated[str, typer.Option("--color", help="always | never | auto")]
ApprovalOpt = Annotated[
    str | None,
    typer.Option(
        "-a", "--ask-for-approval", help="Only `on-request` with approvals_reviewer=auto_review"
    ),
]
AddDirOpt = Annotated[
    list[Path] | None, typer.Option("--add-dir", help="Extra writable root (repeatable)")
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
        list[Path] | None, typer.Option("-i", "--image", help="Attach an image (repeatable)")
    ] = None,
    model: ModelOpt = None,
    profile: ProfileOpt = None,
    sandbox: SandboxOpt = None,
    approval: ApprovalOpt = None,
    config: OverrideOpt = None,
    oss: OssOpt = False,
    local_provider: Annotated[
        str | None, typer.Option("--local-provider", help="lmstudio | ollama (with --oss)")
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
    run = _Run(json_out=json_out, color=color, output_last_message=output_last_message)
    if full_auto:
        run.warnings.append("--full-auto is deprecated; use --sandbox workspace-write instead")
        sandbox = sandbox or "workspace-write"
    if color not in ("always", "never", "auto"):
        raise typer.BadParameter(
            f"{color!r} is not one of always, never, auto", param_hint="--color"
        )
    request = dict(
        profile=profile,
        model=model,
        sandbox=sandbox,
        dangerously_bypass=yolo,
        oss=oss,
        writable_roots=tuple(add_dir or ()),
        ignore_user_config=ignore_user_config,
        ignore_rules=ignore_rules,
    )
    code = run.start(
        prompt,
        cwd,
        config,
        request,
        approval=approval,
        skip_git_repo_check=skip_git_repo_check or yolo,
        ephemeral=ephemeral,
        output_schema=output_schema,
        images=image or [],
        oss=oss,
        local_provider=local_provider,
        resume=None,
    )
    raise typer.Exit(code)


resume_app = make_app("Resume a recorded session headlessly.", invoke_without_command=True)


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
    run = _Run(json_out=json_out, color=color, output_last_message=output_last_message)
    code = run.start(
        prompt,
        cwd,
        config,
        dict(model=model, sandbox=sandbox),
        approval=None,
        skip_git_repo_check=skip_git_repo_check,
        ephemeral=False,
        output_schema=None,
        images=[],
        oss=False,
        local_provider=None,
        resume=(session_id, all_dirs),
    )
    raise typer.Exit(code)


class _Run:
    """One exec invocation: load governance, open the session, render, map the exit code."""

    def __init__(self, *, json_out: bool, color: str, output_last_message: Path | None) -> None:
        self.json_out = json_out
        self.color = color
        self.output_last_message = output_last_message
        self.warnings: list[str] = []

    def start(
        self,
        prompt: str | None,
        cwd: Path | None,
        overrides: list[str] | None,
        flags: dict[str, Any],
        *,
        approval: str | None,
        skip_git_repo_check: bool,
        ephemeral: bool,
        output_schema: Path | None,
        images: list[Path],
        oss: bool,
        local_provider: str | None,
        resume: tuple[str | None, bool] | None,
    ) -> int:
        from codex_admin.agent.bootstrap import SessionOptions, json_schema_file
        from codex_admin.agent.exec import decide_exec_approval, git_guard, run_exec
        from codex_admin.agent.rollout import find_rollout
        from codex_admin.cli.exec_prompt import read_prompt
        from codex_admin.cli.exec_render import HumanRenderer, JsonRenderer
        from codex_admin.governance import load_governance

        notices: list[str] = []
        text = read_prompt(
            prompt, sys.stdin.buffer, stdin_is_tty=sys.stdin.isatty(), notice=notices
        )
        schema = json_schema_file(output_schema) if output_schema is not None else None
        base = governance_request(cwd, overrides, **flags)
        governance, approval_note = decide_exec_approval(base, approval, load_governance)
        if not skip_git_repo_check:
            git_guard(governance.cwd, governance.config.project_trust, NOT_TRUSTED)
        state = None
        if resume is not None:
            session_id, all_dirs = resume
            state = find_rollout(
                governance.codex_home, session_id, cwd=None if all_dirs else governance.cwd
            )
        if self.json_out:
            renderer: Any = JsonRenderer(sys.stdout, sys.stderr)
        else:
            use_color = self.color == "always" or (self.color == "auto" and sys.stderr.isatty())
            renderer = HumanRenderer(sys.stderr, use_color, str(governance.cwd))
        for line in notices:
            renderer.notice(line)
        warnings = [*self.warnings, *governance.warnings]
        if approval_note:
            warnings.append(approval_note)
        options = SessionOptions(
            originator="codex_exec",
            ephemeral=ephemeral,
            output_schema=schema,
            oss=oss,
            local_provider=local_provider,
            resume=state,
        )
        outcome = _run_with_interrupts(
            lambda interrupt: run_exec(
                governance,
                options,
                text,
                renderer,
                warnings=warnings,
                images=images,
                interrupt=interrupt,
            )
        )
        if not self.json_out and outcome.last_message is not None:
            sys.stdout.write(outcome.last_message.rstrip("\n") + "\n")
            sys.stdout.flush()
        if outcome.ok and self.output_last_message is not None:
            _write_last_message(self.output_last_message, outcome.last_message or "")
        return 0 if outcome.ok else 1


def _write_last_message(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise CodexError(
            f"cannot write the last message to {path}: {err.strerror}",
            hint="check that the folder exists and is writable",
        ) from None


def _run_with_interrupts(make: Any) -> Any:
    """Run ``make(interrupt)``; the first Ctrl-C sets ``interrupt`` (the turn is interrupted and
    its commands killed), a second one exits at once with 130."""

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        interrupt = asyncio.Event()

        def on_sigint() -> None:
            if interrupt.is_set():
                sys.stderr.write("\n")
                raise SystemExit(130)
            interrupt.set()

        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            return await make(interrupt)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    return asyncio.run(main())
