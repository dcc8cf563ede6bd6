"""`codex exec` without typer: the arguments, a fast parser, and the run itself.

Start-up is part of the product (issue 14: cold start to the first model request within 8x a
bare `python -c pass`), and typer with its pydantic adapters costs more than the agent's own
imports. So the dispatcher hands well-formed `exec` / `exec resume` invocations to
:func:`try_exec`; anything else -- help, an unknown option, a missing or invalid value -- is
declined and the typer command in :mod:`.exec_cmd` answers it with its usage error (exit 2). Both
paths run :func:`run_exec_cli` with the same :class:`ExecArgs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from codex_admin.cli import context
from codex_admin.errors import CodexError
from codex_admin.vocabulary import ApprovalPolicy, SandboxMode

__all__ = [
    "NOT_TRUSTED",
    "ExecArgs",
    "LastMessageFile",
    "parse_exec_args",
    "run_exec_cli",
    "try_exec",
]

NOT_TRUSTED = "Not inside a trusted directory and --skip-git-repo-check was not specified."
COLORS = ("always", "never", "auto")
_SANDBOX = frozenset(m.value for m in SandboxMode.cli_choices())
_APPROVAL = frozenset(p.value for p in ApprovalPolicy)


@dataclass
class ExecArgs:
    """Every `codex exec` flag (spec runtime §2); ``resume`` is (id or None, --all)."""

    prompt: str | None = None
    json_out: bool = False
    output_last_message: Path | None = None
    output_schema: Path | None = None
    color: str = "auto"
    skip_git_repo_check: bool = False
    ephemeral: bool = False
    images: list[Path] = field(default_factory=list)
    model: str | None = None
    profile: str | None = None
    sandbox: str | None = None
    approval: str | None = None
    overrides: list[str] = field(default_factory=list)
    oss: bool = False
    local_provider: str | None = None
    add_dirs: list[Path] = field(default_factory=list)
    cwd: Path | None = None
    yolo: bool = False
    full_auto: bool = False
    ignore_user_config: bool = False
    ignore_rules: bool = False
    resume: tuple[str | None, bool] | None = None


# option -> (field, kind); kind: "flag" | "value" | "list" | "path" | "paths"
_OPTIONS: dict[str, tuple[str, str]] = {
    "--json": ("json_out", "flag"),
    "--experimental-json": ("json_out", "flag"),
    "-o": ("output_last_message", "path"),
    "--output-last-message": ("output_last_message", "path"),
    "--output-schema": ("output_schema", "path"),
    "--color": ("color", "value"),
    "--skip-git-repo-check": ("skip_git_repo_check", "flag"),
    "--ephemeral": ("ephemeral", "flag"),
    "-i": ("images", "paths"),
    "--image": ("images", "paths"),
    "-m": ("model", "value"),
    "--model": ("model", "value"),
    "-p": ("profile", "value"),
    "--profile": ("profile", "value"),
    "-s": ("sandbox", "value"),
    "--sandbox": ("sandbox", "value"),
    "-a": ("approval", "value"),
    "--ask-for-approval": ("approval", "value"),
    "-c": ("overrides", "list"),
    "--config": ("overrides", "list"),
    "--oss": ("oss", "flag"),
    "--local-provider": ("local_provider", "value"),
    "--add-dir": ("add_dirs", "paths"),
    "-C": ("cwd", "path"),
    "--cd": ("cwd", "path"),
    "--dangerously-bypass-approvals-and-sandbox": ("yolo", "flag"),
    "--yolo": ("yolo", "flag"),
    "--full-auto": ("full_auto", "flag"),
    "--ignore-user-config": ("ignore_user_config", "flag"),
    "--ignore-rules": ("ignore_rules", "flag"),
}
# `exec resume` takes a subset, plus its own.
_RESUME_ONLY = {"--last": ("last", "flag"), "--all": ("all", "flag")}
_RESUME_OPTIONS = {
    name: spec
    for name, spec in _OPTIONS.items()
    if spec[0]
    in {
        "json_out",
        "output_last_message",
        "color",
        "skip_git_repo_check",
        "model",
        "sandbox",
        "overrides",
        "cwd",
    }
}


def parse_exec_args(argv: Sequence[str], *, resume: bool = False) -> ExecArgs | None:
    """The parsed arguments, or None when typer must answer (help or a usage error)."""
    table = {**_RESUME_OPTIONS, **_RESUME_ONLY} if resume else _OPTIONS
    args = ExecArgs()
    flags: dict[str, bool] = {}
    positionals: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        token = items[i]
        i += 1
        if token == "--":
            positionals += items[i:]
            break
        if not token.startswith("-") or token == "-":
            positionals.append(token)
            continue
        name, eq, inline = token.partition("=")
        spec = table.get(name)
        if spec is None or (eq and spec[1] == "flag"):
            return None  # help, an unknown option, `--flag=value`: typer answers
        dest, kind = spec
        if kind == "flag":
            flags[dest] = True
            continue
        if not eq:
            if i >= len(items):
                return None
            inline = items[i]
            i += 1
        if kind == "list":
            args.overrides.append(inline)
        elif kind == "paths":
            getattr(args, dest).append(Path(inline))
        elif kind == "path":
            setattr(args, dest, Path(inline))
        else:
            setattr(args, dest, inline)
    for dest, value in flags.items():
        if dest not in ("last", "all"):
            setattr(args, dest, value)
    if args.color not in COLORS or (args.sandbox is not None and args.sandbox not in _SANDBOX):
        return None
    if args.approval is not None and args.approval not in _APPROVAL:
        return None
    if not resume:
        if len(positionals) > 1:
            return None
        args.prompt = positionals[0] if positionals else None
        return args
    return _resume_args(args, positionals, flags.get("last", False), flags.get("all", False))


def _resume_args(
    args: ExecArgs, positionals: list[str], last: bool, all_dirs: bool
) -> ExecArgs | None:
    if len(positionals) > 2:
        return None
    session_id = positionals[0] if positionals else None
    prompt = positionals[1] if len(positionals) > 1 else None
    if last and session_id is not None and prompt is None:
        session_id, prompt = None, session_id
    if not last and session_id is None:
        return None  # typer says "give a session id or --last"
    args.prompt = prompt
    args.resume = (session_id, all_dirs)
    return args


def try_exec(argv: Sequence[str]) -> bool:
    """Run a well-formed `exec ARGS` / `exec resume ARGS` (exits); False to let typer answer."""
    resume = argv[:1] == ["resume"]
    parsed = parse_exec_args(argv[1:] if resume else argv, resume=resume)
    if parsed is None:
        return False
    try:
        code = run_exec_cli(parsed)
    except CodexError as err:
        sys.stdout.flush()
        sys.stderr.write(f"error: {err}\n")
        code = 1
    except KeyboardInterrupt:
        code = 130
    _exit(code)


def _exit(code: int) -> NoReturn:
    sys.stdout.flush()
    raise SystemExit(code)


def run_exec_cli(args: ExecArgs) -> int:
    """One exec invocation: prompt, governance, session, rendering; returns the exit code."""
    from codex_admin.agent.bootstrap import SessionOptions, json_schema_file
    from codex_admin.agent.exec import Renderer, decide_exec_approval, git_guard, run_exec
    from codex_admin.cli.exec_prompt import read_prompt
    from codex_admin.cli.exec_render import HumanRenderer, JsonRenderer, printable
    from codex_admin.governance import load_governance

    warnings: list[str] = []
    sandbox = args.sandbox
    if args.full_auto:
        warnings.append("--full-auto is deprecated; use --sandbox workspace-write instead")
        sandbox = sandbox or "workspace-write"
    if args.yolo and (args.approval or args.full_auto):
        raise CodexError(
            "--dangerously-bypass-approvals-and-sandbox cannot be combined with "
            "-a/--ask-for-approval or --full-auto"
        )
    notices: list[str] = []
    text = read_prompt(
        args.prompt, sys.stdin.buffer, stdin_is_tty=sys.stdin.isatty(), notice=notices
    )
    schema = json_schema_file(args.output_schema) if args.output_schema is not None else None
    governance, approval_note = decide_exec_approval(
        _request(args, sandbox), args.approval, load_governance
    )
    if not (args.skip_git_repo_check or args.yolo):
        git_guard(governance.cwd, governance.config.project_trust, NOT_TRUSTED)
    state = None
    if args.resume is not None:
        # Only `exec resume` reads rollouts (start-up: the others never load that code).
        from codex_admin.agent.rollout import find_rollout

        session_id, all_dirs = args.resume
        state = find_rollout(
            governance.codex_home, session_id, cwd=None if all_dirs else governance.cwd
        )
    renderer: Renderer
    if args.json_out:
        renderer = JsonRenderer(sys.stdout, sys.stderr)
    else:
        use_color = args.color == "always" or (args.color == "auto" and sys.stderr.isatty())
        renderer = HumanRenderer(sys.stderr, use_color, str(governance.cwd))
    for line in notices:
        renderer.notice(line)
    warnings += governance.warnings
    if approval_note:
        warnings.append(approval_note)
    options = SessionOptions(
        originator="codex_exec",
        ephemeral=args.ephemeral,
        output_schema=schema,
        oss=args.oss,
        local_provider=args.local_provider,
        resume=state,
    )
    # Pinned before the session starts: see LastMessageFile.
    last_file = LastMessageFile(args.output_last_message) if args.output_last_message else None
    try:
        outcome = _run_with_interrupts(
            lambda interrupt: run_exec(
                governance,
                options,
                text,
                renderer,
                warnings=warnings,
                images=args.images,
                interrupt=interrupt,
            )
        )
        if not args.json_out and outcome.last_message is not None:
            message = outcome.last_message.rstrip("\n")
            # A pipe or file gets the answer as written; a terminal never gets raw escapes.
            sys.stdout.write((printable(message) if sys.stdout.isatty() else message) + "\n")
            sys.stdout.flush()
        if outcome.ok and last_file is not None:
            last_file.write(outcome.last_message or "")
    finally:
        if last_file is not None:
            last_file.close()
    return 0 if outcome.ok else 1


def _request(args: ExecArgs, sandbox: str | None) -> Any:
    from codex_admin.config import Flags
    from codex_admin.governance import GovernanceRequest

    return GovernanceRequest(
        cwd=args.cwd,
        overrides=[*context.ROOT_OVERRIDES, *args.overrides],
        profile=args.profile,
        flags=Flags(model=args.model, sandbox=sandbox, dangerously_bypass=args.yolo, oss=args.oss),
        writable_roots=tuple(args.add_dirs),
        ignore_user_config=args.ignore_user_config,
        ignore_rules=args.ignore_rules,
    )


class LastMessageFile:
    """``-o FILE``, pinned before the run: the final message is written where FILE was then.

    The agent's commands may write in FILE's folder (it is usually the workspace), so by the
    end of the turn a sandboxed command -- or the repository itself -- may have put a symlink
    at FILE pointing to ``~/.bashrc`` or ``$CODEX_HOME/config.toml``, and codex, which is not
    sandboxed, would write the model's text there. So the folder is resolved and opened before
    the session starts, and the message goes to a new file in *that* folder, renamed over
    FILE's name: a rename replaces a symlink (or a hard link) instead of writing through it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._name = path.name
        if self._name in ("", ".", ".."):
            raise CodexError(
                f"cannot write the last message to {path}: not a file name",
                hint="pass a file path to -o/--output-last-message",
            )
        try:
            self._dir = os.open(
                os.path.realpath(path.parent), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
            )
        except OSError as err:
            raise self._error(err) from None

    def _error(self, err: OSError) -> CodexError:
        return CodexError(
            f"cannot write the last message to {self.path}: {err.strerror}",
            hint="check that the folder exists and is writable",
        )

    def write(self, text: str) -> None:
        # os.urandom is what secrets.token_hex reads; importing secrets (hmac) costs start-up.
        temp = f".{self._name}.codex-{os.urandom(6).hex()}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(temp, flags, 0o666, dir_fd=self._dir)
            try:
                with contextlib.suppress(FileNotFoundError):
                    old = os.stat(self._name, dir_fd=self._dir, follow_symlinks=False)
                    if stat.S_ISREG(old.st_mode):
                        os.fchmod(fd, stat.S_IMODE(old.st_mode))
                data = memoryview(text.encode("utf-8", "replace"))
                while data:
                    data = data[os.write(fd, data) :]
            finally:
                os.close(fd)
            os.replace(temp, self._name, src_dir_fd=self._dir, dst_dir_fd=self._dir)
        except OSError as err:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=self._dir)
            raise self._error(err) from None

    def close(self) -> None:
        os.close(self._dir)


def _run_with_interrupts(
    make: Callable[[asyncio.Event], Coroutine[Any, Any, Any]],
) -> Any:
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

        # Event loops without signal handlers (Windows, a non-main thread) keep Python's default
        # Ctrl-C: KeyboardInterrupt, exit 130.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            return await make(interrupt)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    return asyncio.run(main())
