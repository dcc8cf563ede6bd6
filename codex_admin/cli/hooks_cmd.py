"""`codex hooks list | trust | test`: see, trust and try the lifecycle hooks in force."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt, StrictOpt, load_effective_config
from codex_admin.cli.output import print_json, print_warnings
from codex_admin.errors import CodexError

if TYPE_CHECKING:
    from codex_admin.hooks import HookRun, HookSet, SampleReport

app = make_app("List, trust and test lifecycle hooks (Claude-Code-compatible command hooks).")

EXIT_BLOCKED = 3


@app.callback()
def _group() -> None:
    """List, trust and test lifecycle hooks (Claude-Code-compatible command hooks)."""


def _discover(cwd: Any, strict: bool) -> HookSet:
    from codex_admin.hooks import discover_hooks

    return discover_hooks(load_effective_config(cwd, strict=strict))


@app.command("list")
def list_hooks(json_out: JsonOpt = False, cwd: CwdOpt = None, strict: StrictOpt = False) -> None:
    """Every hook in force here: event, matcher, trust state, source and command.

    Example: codex hooks list --json
    """
    hooks = _discover(cwd, strict)
    if json_out:
        print_json(hooks.to_json())
        return
    print_warnings(hooks.warnings)
    out = sys.stdout.write
    if not hooks.enabled:
        out(f"Hooks are off: {hooks.disabled_reason}\n")
        return
    if hooks.managed_only:
        out("Only managed hooks run here (allow_managed_hooks_only = true).\n")
    if not hooks.hooks:
        out("No hooks configured.\n")
    for hook in hooks.hooks:
        state = hook.trust.value if hook.enabled else f"{hook.trust.value}, disabled"
        runs = "runs" if hook.runnable else "does not run"
        extra = " async" if hook.is_async else ""
        out(
            f"{hook.id}  {hook.event.value}  matcher={hook.matcher.pattern or '*'}"
            f"  [{state}; {runs}]{extra}  timeout={hook.timeout:g}s\n"
            f"    {hook.command}\n"
            f"    from {hook.source.value}: {hook.source_path}\n"
        )
    if hooks.problems:
        out("\nProblems:\n")
        for problem in hooks.problems:
            out("  " + str(problem).replace("\n", "\n  ") + "\n")
    summary = hooks.review_summary()
    if summary:
        out(f"\n{summary} Trust reviewed hooks with `codex hooks trust ID...`.\n")


IdsArg = Annotated[
    list[str] | None,
    typer.Argument(metavar="ID", help="Hook ids (or keys) from `codex hooks list`"),
]
AllOpt = Annotated[
    bool, typer.Option("--all", help="Trust every hook here that needs review (new or modified)")
]


@app.command("trust")
def trust(
    ids: IdsArg = None,
    all_hooks: AllOpt = False,
    json_out: JsonOpt = False,
    cwd: CwdOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Record the current definition of hooks as trusted in $CODEX_HOME/config.toml.

    Example: codex hooks trust --all
    """
    from codex_admin.hooks import trust_hooks

    if bool(ids) == all_hooks:
        raise typer.BadParameter("give hook ids, or --all (not both)", param_hint="'ID...'")
    hooks = _discover(cwd, strict)
    if all_hooks:
        chosen = list(hooks.needs_review)
    else:
        chosen = []
        for ref in ids or []:
            hook = hooks.find(ref)
            if hook is None:
                known = ", ".join(h.id for h in hooks.hooks) or "none"
                raise CodexError(
                    f"no hook {ref!r} is in force here",
                    hint=f"run `codex hooks list` (ids here: {known})",
                )
            chosen.append(hook)
    managed = [h for h in chosen if h.managed]
    already = [h for h in chosen if not h.managed and h.trust.value == "trusted"]
    changed = trust_hooks(hooks.codex_home, chosen)
    if json_out:
        print_json(
            {
                "trusted": [h.to_json() for h in changed],
                "already_trusted": [h.to_json() for h in already],
                "managed": [h.to_json() for h in managed],
                "config_path": str(hooks.codex_home / "config.toml"),
            }
        )
        return
    out = sys.stdout.write
    if not chosen:
        out("No hooks need review here.\n")
    for hook in changed:
        out(f"trusted {hook.id}: {hook.describe()}\n")
    for hook in already:
        out(f"already trusted {hook.id}: {hook.describe()}\n")
    for hook in managed:
        out(f"managed {hook.id}: managed hooks are always trusted\n")


ToolOpt = Annotated[
    str | None,
    typer.Option(
        "--tool", metavar="NAME", help="Tool name for tool events (Bash, apply_patch, ...)"
    ),
]
InputOpt = Annotated[
    str | None,
    typer.Option(
        "--input",
        metavar="JSON",
        help="JSON object: the tool input for tool events, otherwise the event's fields",
    ),
]


@app.command("test")
def test(
    event: Annotated[
        str, typer.Argument(metavar="EVENT", help="PreToolUse, PostToolUse, Stop, ...")
    ],
    tool: ToolOpt = None,
    input_json: InputOpt = None,
    json_out: JsonOpt = False,
    cwd: CwdOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Run the hooks an event selects on a sample input and show their decisions (no model).

    Exits 3 when the hooks block (a deny, a blocked prompt, a denied permission).

    Example: codex hooks test PreToolUse --tool Bash --input '{"command": "rm -rf /"}'
    """
    from codex_admin.hooks import HookEventName, discover_hooks, run_sample_event
    from codex_admin.sandbox import EnvPolicy, build_child_env

    names = {e.value.lower(): e for e in HookEventName}
    chosen = names.get(event.lower().replace("_", ""))
    if chosen is None:
        raise typer.BadParameter(
            f"{event!r} is not a hook event ({', '.join(e.value for e in HookEventName)})",
            param_hint="'EVENT'",
        )
    overrides: dict[str, Any] = {}
    if input_json is not None:
        try:
            parsed = json.loads(input_json)
        except json.JSONDecodeError as err:
            raise typer.BadParameter(f"not JSON: {err.msg}", param_hint="'--input'") from None
        if not isinstance(parsed, dict):
            raise typer.BadParameter("must be a JSON object", param_hint="'--input'")
        overrides = parsed
    result = load_effective_config(cwd, strict=strict)
    hooks = discover_hooks(result)
    policy = EnvPolicy.from_table(result.config.get("shell_environment_policy"))
    env = build_child_env(policy, os.environ)
    report = run_sample_event(hooks, chosen, env=env, tool=tool, overrides=overrides)
    if json_out:
        print_json(report.to_json())
    else:
        print_warnings(hooks.warnings)
        _render_report(report, hooks)
    if report.blocked:
        raise typer.Exit(EXIT_BLOCKED)


def _render_report(report: SampleReport, hooks: HookSet) -> None:
    out = sys.stdout.write
    if not hooks.enabled:
        out(f"Hooks are off: {hooks.disabled_reason}\n")
    inputs = ", ".join(report.inputs) if report.inputs is not None else "(matchers ignored)"
    out(f"{report.event.value}  matcher inputs: {inputs}\n")
    out(f"input: {json.dumps(report.fields, ensure_ascii=False)}\n")
    runs = report.outcome.runs
    if not runs and not report.skipped:
        out("No hooks selected this event.\n")
    for run in runs:
        _render_run(run)
    for hook, reason in report.skipped:
        out(f"  {hook.id}  skipped: {reason}\n    {hook.command}\n")
    outcome = report.outcome.to_json()
    outcome.pop("runs", None)
    out(f"outcome: {json.dumps(outcome, ensure_ascii=False)}\n")


def _render_run(run: HookRun) -> None:
    out = sys.stdout.write
    code = "-" if run.exit_code is None else str(run.exit_code)
    out(
        f"  {run.hook.id}  {run.status.value}  exit={code}  {run.duration_ms} ms"
        f"  ({run.hook.source.value}: {run.hook.source_path})\n    {run.hook.command}\n"
    )
    for entry in run.entries:
        text = entry.text.replace("\n", "\n      ")
        out(f"      {entry.kind.value}: {text}\n")
