"""`codex sandbox linux|macos [OPTIONS] [--] CMD...`: run (or explain) a command under the
effective configuration's sandbox. Flags override the config; requirements still constrain them
(the config engine falls back to an allowed sandbox mode with a warning, `deny_read` and
`experimental_network` always apply)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt, OverrideOpt, SandboxOpt, load_governance
from codex_admin.cli.output import print_json, print_warnings
from codex_admin.vocabulary import SandboxMode

if TYPE_CHECKING:
    from codex_admin.governance import Governance
    from codex_admin.sandbox import RunResult, SandboxPolicy

app = make_app("Run a command under the Linux or macOS sandbox.")

_RUN_SETTINGS = {"allow_interspersed_args": False, "ignore_unknown_options": True}
CommandArg = Annotated[list[str] | None, typer.Argument(help="The command and its arguments")]
RootOpt = Annotated[
    list[Path] | None,
    typer.Option("--writable-root", help="Extra writable root (workspace-write; repeatable)"),
]
NetworkOpt = Annotated[
    str | None, typer.Option("--network", help="none | proxy | full (default: from config)")
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", min=0.001, max=1e9, help="Kill the command after SECONDS (exit 124)"),
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
    return governance, governance.sandbox_policy()


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
    timeout). With --json, capture CMD's output and print one JSON object."""
    argv = _need_command(command)
    governance, policy = _setup(cwd, config, sandbox, writable_root, network)
    if explain:
        _render_explain(governance.explain_sandbox(argv, policy), json_out)
        return
    pipe = asyncio.subprocess.PIPE if json_out else None

    async def run() -> RunResult:
        async with governance.sandbox_session() as session:
            return await session.run(
                policy,
                argv,
                timeout=timeout,
                forward_signals=True,
                stdout=pipe,
                stderr=pipe,
            )

    result = asyncio.run(run())
    if json_out:
        print_json(
            {
                "exit_code": result.exit_code,
                "timed_out": result.timed_out,
                "sandboxed": result.sandboxed,
                "duration_ms": round(result.duration * 1000, 1),
                "stdout": (result.stdout or b"").decode("utf-8", "replace"),
                "stderr": (result.stderr or b"").decode("utf-8", "replace"),
            }
        )
    elif result.timed_out:
        sys.stderr.write(f"codex sandbox: command timed out after {timeout:g}s; killed\n")
    raise typer.Exit(result.exit_code)


def _render_explain(info: dict[str, Any], json_out: bool) -> None:
    if json_out:
        print_json(info)
        return
    import shlex

    out = sys.stdout.write
    policy, plan = info["policy"], info["plan"]
    out(f"sandbox:  {policy['mode']}   network: {policy['network']}   cwd: {plan['cwd']}\n")
    out(f"backend:  {info['backend']}\n")
    for key in ("writable", "protected", "blocked", "masked_dirs", "masked_files"):
        for path in plan[key]:
            out(f"  {key:<13} {path}\n")
    if "network_policy" in info:
        net = info["network_policy"]
        out(f"proxy:    mode={net['mode']} allowed={net['allowed_domains']} ")
        out(f"denied={net['denied_domains']} local={net['allow_local_binding']}\n")
    out(f"env:      {len(info['env_names'])} variables: {' '.join(info['env_names'])}\n")
    out("argv:\n  " + shlex.join(info["argv"]) + "\n")


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
    `sandbox-exec` with it (unless --explain)."""
    from codex_admin.sandbox import macos_profile, run_command_macos

    governance, policy = _setup(cwd, config, sandbox, writable_root, network)
    if sys.platform != "darwin" or explain:
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
