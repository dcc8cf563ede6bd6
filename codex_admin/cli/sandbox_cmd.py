"""`codex sandbox linux|macos [OPTIONS] [--] CMD...`: run (or explain) a command under the
effective configuration's sandbox. Flags override the config; requirements still constrain them
(the config engine falls back to an allowed sandbox mode with a warning, `deny_read` and
`experimental_network` always apply)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import (
    CwdOpt,
    JsonOpt,
    OverrideOpt,
    SandboxOpt,
    governance_request,
    load_governance,
)
from codex_admin.cli.output import print_json, print_warnings
from codex_admin.cli.sandbox_fast import LinuxArgs, UsageProblem, json_error, run_linux
from codex_admin.errors import CodexError
from codex_admin.vocabulary import SandboxMode

if TYPE_CHECKING:
    from codex_admin.governance import Governance
    from codex_admin.sandbox import SandboxPolicy

app = make_app("Run a command under the Linux or macOS sandbox.")

_RUN_SETTINGS = {"allow_interspersed_args": False, "ignore_unknown_options": True}
CommandArg = Annotated[
    list[str] | None, typer.Argument(metavar="COMMAND", help="The command and its arguments")
]
RootOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--writable-root",
        metavar="DIR",
        help="Extra writable root (workspace-write; repeatable)",
    ),
]
NetworkOpt = Annotated[
    str | None,
    typer.Option("--network", metavar="MODE", help="none | proxy | full (default: from config)"),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0.001,
        max=1e9,
        metavar="SECONDS",
        help="Kill the command after SECONDS (exit 124)",
    ),
]
ExplainOpt = Annotated[
    bool, typer.Option("--explain", help="Print the policy and backend argv instead of running")
]


def _setup(
    cwd: Path | None,
    overrides: list[str] | None,
    sandbox: str | None,
    roots: list[Path] | None,
    network: str | None,
    for_run: bool,
) -> tuple[Governance, SandboxPolicy]:
    governance = load_governance(
        cwd, overrides, sandbox=sandbox, writable_roots=roots or (), network=network
    )
    print_warnings(governance.warnings)
    mode = governance.sandbox_mode
    if roots and mode is not SandboxMode.WORKSPACE_WRITE:
        raise typer.BadParameter(
            f"only applies to workspace-write (the effective sandbox is {mode.value})",
            param_hint="'--writable-root'",
        )
    return governance, governance.sandbox_policy(for_run=for_run)


def _need_command(command: list[str] | None) -> list[str]:
    if not command:
        raise typer.BadParameter("give the command to run after `--`", param_hint="CMD")
    return command


@app.command("linux", context_settings=_RUN_SETTINGS)
def linux(
    command: CommandArg = None,
    sandbox: SandboxOpt = None,
    writable_root: RootOpt = None,
    network: NetworkOpt = None,
    cwd: CwdOpt = None,
    timeout: TimeoutOpt = None,
    explain: ExplainOpt = False,
    json_out: JsonOpt = False,
    config: OverrideOpt = None,
) -> None:
    """Run CMD under bubblewrap; exit with CMD's exit code (128+N after signal N, 124 on
    timeout, 127 when CMD is not found). With --json, capture CMD's output and print one JSON
    object (on failure: {"error": {...}}).

    Example: codex sandbox linux -s workspace-write --network none -- make test
    """
    args = LinuxArgs(
        command=_need_command(command),
        sandbox=sandbox,
        network=network,
        cwd=cwd,
        writable_roots=list(writable_root or ()),
        timeout=timeout,
        overrides=list(config or ()),
        json_out=json_out,
        explain=explain,
    )
    # Same validation messages as the shared options (exit 2 before any loading).
    governance_request(cwd, config, sandbox=sandbox, network=network)
    with _json_errors(json_out):
        try:
            code = run_linux(args)
        except UsageProblem as problem:
            raise typer.BadParameter(str(problem), param_hint=problem.param) from None
    raise typer.Exit(code)


@app.command("macos", context_settings=_RUN_SETTINGS)
def macos(
    command: CommandArg = None,
    sandbox: SandboxOpt = None,
    writable_root: RootOpt = None,
    network: NetworkOpt = None,
    cwd: CwdOpt = None,
    timeout: TimeoutOpt = None,
    explain: ExplainOpt = False,
    json_out: JsonOpt = False,
    config: OverrideOpt = None,
) -> None:
    """Print the Seatbelt (SBPL) profile for the effective policy; on macOS, run CMD under
    `sandbox-exec` with it (unless --explain).

    Example: codex sandbox macos -s workspace-write --json -- true
    """
    with _json_errors(json_out):
        _macos(command, sandbox, writable_root, network, cwd, timeout, explain, json_out, config)


@contextlib.contextmanager
def _json_errors(json_out: bool) -> Iterator[None]:
    """With --json, a CodexError also prints ``{"error": {...}}`` on stdout (exit 1)."""
    try:
        yield
    except CodexError as err:
        if not json_out:
            raise
        print_json(json_error(err))
        sys.stderr.write(f"error: {err}\n")
        raise typer.Exit(1) from None


def _macos(
    command: list[str] | None,
    sandbox: str | None,
    writable_root: list[Path] | None,
    network: str | None,
    cwd: Path | None,
    timeout: float | None,
    explain: bool,
    json_out: bool,
    config: list[str] | None,
) -> None:
    from codex_admin.sandbox import macos_profile, run_command_macos

    printing = sys.platform != "darwin" or explain
    governance, policy = _setup(cwd, config, sandbox, writable_root, network, not printing)
    if printing:
        profile, argv = macos_profile(
            policy,
            command or [],
            network_config=governance.network_table,
            managed_network=governance.managed_network,
        )
        if json_out:
            print_json({"policy": policy.to_json(), "profile": profile, "argv": argv})
        else:
            sys.stdout.write(profile)
        return
    result = asyncio.run(  # pragma: no cover - macOS only
        run_command_macos(
            policy,
            _need_command(command),
            codex_home=governance.codex_home,
            network_config=governance.network_table,
            managed_network=governance.managed_network,
            timeout=timeout,
        )
    )
    raise typer.Exit(result.exit_code)  # pragma: no cover - macOS only
