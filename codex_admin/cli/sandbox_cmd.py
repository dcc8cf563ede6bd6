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
from codex_admin.cli.common import (
    CwdOpt,
    JsonOpt,
    OverrideOpt,
    SandboxOpt,
    load_effective_config,
    network_table_with_rules,
)
from codex_admin.cli.output import print_json, print_warnings

if TYPE_CHECKING:
    from codex_admin.sandbox import SandboxPolicy

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


class _Setup:
    """The effective sandbox inputs for one invocation."""

    def __init__(
        self,
        policy: SandboxPolicy,
        network_config: dict[str, Any] | None,
        managed_network: dict[str, Any] | None,
        codex_home: Path,
    ) -> None:
        self.policy = policy
        self.network_config = network_config
        self.managed_network = managed_network
        self.codex_home = codex_home


def _setup(
    cwd: Path | None,
    overrides: list[str] | None,
    sandbox: str | None,
    roots: list[Path] | None,
    network: str | None,
) -> _Setup:
    from codex_admin.sandbox import policy_from_config

    if network is not None and network not in ("none", "proxy", "full"):
        raise typer.BadParameter(
            f"{network!r} is not one of none, proxy, full", param_hint="'--network'"
        )
    result = load_effective_config(cwd, overrides, sandbox=sandbox)
    print_warnings(result.warnings)
    mode = str(result.resolved.get("sandbox_mode") or "read-only")
    if roots and mode != "workspace-write":
        raise typer.BadParameter(
            f"only applies to workspace-write (the effective sandbox is {mode})",
            param_hint="'--writable-root'",
        )
    permissions = result.requirements.value("permissions") or {}
    deny_read = list((permissions.get("filesystem") or {}).get("deny_read") or [])
    managed = result.requirements.value("experimental_network")
    network_config = network_table_with_rules(result)
    policy = policy_from_config(
        result.config,
        sandbox_mode=mode,
        cwd=result.cwd,
        deny_read=deny_read,
        managed_network=managed,
        network=network,
        extra_writable_roots=[r.expanduser() for r in roots or []],
    )
    return _Setup(
        policy,
        network_config if isinstance(network_config, dict) else None,
        managed if isinstance(managed, dict) else None,
        result.codex_home,
    )


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
    from codex_admin.sandbox import explain_command, run_command

    argv = _need_command(command)
    setup = _setup(cwd, config, sandbox, writable_root, network)
    if explain:
        info = explain_command(
            setup.policy,
            argv,
            network_config=setup.network_config,
            managed_network=setup.managed_network,
        )
        _render_explain(info, json_out)
        return
    pipe = asyncio.subprocess.PIPE if json_out else None
    result = asyncio.run(
        run_command(
            setup.policy,
            argv,
            codex_home=setup.codex_home,
            network_config=setup.network_config,
            managed_network=setup.managed_network,
            timeout=timeout,
            forward_signals=True,
            stdout=pipe,
            stderr=pipe,
        )
    )
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

    setup = _setup(cwd, config, sandbox, writable_root, network)
    if sys.platform != "darwin" or explain:
        profile, argv = macos_profile(
            setup.policy,
            command or [],
            network_config=setup.network_config,
            managed_network=setup.managed_network,
        )
        if json_out:
            print_json({"policy": setup.policy.to_json(), "profile": profile, "argv": argv})
        else:
            sys.stdout.write(profile)
        return
    result = asyncio.run(  # pragma: no cover - macOS only
        run_command_macos(
            setup.policy,
            _need_command(command),
            codex_home=setup.codex_home,
            network_config=setup.network_config,
            managed_network=setup.managed_network,
            timeout=timeout,
        )
    )
    raise typer.Exit(result.exit_code)  # pragma: no cover - macOS only
