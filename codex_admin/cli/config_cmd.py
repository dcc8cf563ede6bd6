"""`codex config show|explain|validate|schema|trust`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codex_admin.cli import context
from codex_admin.cli.app import make_app
from codex_admin.cli.common import (
    ApprovalOpt,
    BypassOpt,
    CwdOpt,
    FullAutoOpt,
    JsonOpt,
    ModelOpt,
    OssOpt,
    OverrideOpt,
    ProfileOpt,
    SandboxOpt,
    StrictOpt,
    load_effective_config,
    toml_value,
)
from codex_admin.cli.config_show import render_show
from codex_admin.cli.output import print_json, print_warnings

if TYPE_CHECKING:
    from codex_admin.config import ConfigResult

app = make_app("Show, explain, validate, export and trust the layered configuration.")


def _load(
    cwd: Path | None,
    config: list[str] | None,
    profile: str | None,
    model: str | None,
    sandbox: str | None,
    approval: str | None,
    full_auto: bool,
    bypass: bool,
    oss: bool,
    strict: bool,
) -> ConfigResult:
    """The one load both `show` and `explain` do, from the same session options."""
    return load_effective_config(
        cwd,
        config,
        profile=profile,
        model=model,
        sandbox=sandbox,
        approval=approval,
        full_auto=full_auto,
        dangerously_bypass=bypass,
        oss=oss,
        strict=strict,
    )


@app.command("show")
def show(
    json_out: JsonOpt = False,
    cwd: CwdOpt = None,
    config: OverrideOpt = None,
    profile: ProfileOpt = None,
    model: ModelOpt = None,
    sandbox: SandboxOpt = None,
    approval: ApprovalOpt = None,
    full_auto: FullAutoOpt = False,
    bypass: BypassOpt = False,
    oss: OssOpt = False,
    strict: StrictOpt = False,
) -> None:
    """The effective configuration and where each value comes from.

    Example: codex config show --json -C ~/src/project
    """
    result = _load(cwd, config, profile, model, sandbox, approval, full_auto, bypass, oss, strict)
    render_show(result, json_out)


@app.command("explain")
def explain(
    key: Annotated[
        str, typer.Argument(metavar="KEY", help="Dotted key, e.g. sandbox_mode or features.hooks")
    ],
    json_out: JsonOpt = False,
    cwd: CwdOpt = None,
    config: OverrideOpt = None,
    profile: ProfileOpt = None,
    model: ModelOpt = None,
    sandbox: SandboxOpt = None,
    approval: ApprovalOpt = None,
    full_auto: FullAutoOpt = False,
    bypass: BypassOpt = False,
    oss: OssOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Every layer's value for KEY, which one won and why, and any requirement on it.

    Example: codex config explain sandbox_mode
    """
    from codex_admin.config import explain_key

    result = _load(cwd, config, profile, model, sandbox, approval, full_auto, bypass, oss, strict)
    report = explain_key(result, key)
    if json_out:
        print_json(report)
        return
    print_warnings(result.warnings)
    _render_explain(report)


def _render_explain(report: dict[str, Any]) -> None:
    out = sys.stdout.write
    out(f"{report['key']}\n\nLayers (highest precedence first):\n")
    for entry in report["layers"]:
        if not entry["enabled"]:
            reason = (entry.get("disabled_reason") or "").splitlines()[0:1]
            value = "disabled" + (f" ({reason[0]})" if reason else "")
        elif "value" in entry:
            value = toml_value(entry["value"])
            if entry["layer"] == report["winner"]:
                value += "   <- wins"
        else:
            value = "not set"
        out(f"  {entry['layer']:<16} {value}\n")
    if report["set"]:
        out(f"\nEffective: {toml_value(report['effective'])} (from {report['winner']})\n")
    else:
        out("\nNot set in any layer.\n")
    if report["resolved_source"] is not None:
        out(f"Resolved: {toml_value(report['resolved'])} ({report['resolved_source']})\n")
    if report["requirement"]:
        req = report["requirement"]
        out(
            f"Constrained by requirement {req['field']} = {toml_value(req['value'])}"
            f" (set by {req['source']})\n"
        )
    if report["fallback"]:
        fb = report["fallback"]
        out(
            f"Requirements rejected {toml_value(fb['rejected'])} (from {fb['rejected_from']})"
            f" and fell back to {toml_value(fb['value'])}.\n"
        )


@app.command("validate")
def validate(
    paths: Annotated[list[Path], typer.Argument(metavar="FILE", help="Files to check")],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", metavar="KIND", help="config | managed | requirements (default: by name)"
        ),
    ] = None,
    json_out: JsonOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Schema and semantic checks with located errors; exit 1 on any error.

    Example: codex config validate managed/standard/requirements.toml
    """
    from codex_admin.config import KINDS, suggest, validate_files

    if kind is not None and kind not in KINDS:
        raise typer.BadParameter(
            f"{kind!r} is not one of {', '.join(KINDS)}{suggest(kind, KINDS)}",
            param_hint="'--kind'",
        )
    report = validate_files(paths, kind, strict)
    if json_out:
        print_json(report.to_json())
    else:
        for file in report.files:
            status = "ok" if file.ok else "FAILED"
            sys.stdout.write(f"{file.path} ({file.kind}): {status}\n")
            for issue in file.errors:
                sys.stdout.write(f"  error: {issue}\n")
            for warning in file.warnings:
                sys.stdout.write(f"  warning: {warning}\n")
    if not report.ok:
        raise typer.Exit(1)


@app.command("schema")
def schema(
    kind: Annotated[str, typer.Argument(metavar="KIND", help="config | requirements")] = "config",
) -> None:
    """JSON Schema generated from the models (managed/schema/*.json are made by this).

    Example: codex config schema requirements > requirements.schema.json
    """
    from codex_admin.config import SCHEMA_KINDS, json_schema_text

    if kind not in SCHEMA_KINDS:
        raise typer.BadParameter(
            f"{kind!r} is not one of {', '.join(SCHEMA_KINDS)}", param_hint="'KIND'"
        )
    sys.stdout.write(json_schema_text(kind))


@app.command("trust")
def trust(
    directory: Annotated[
        Path | None,
        typer.Argument(metavar="DIR", help="A directory of the project (default: the current one)"),
    ] = None,
    untrusted: Annotated[
        bool, typer.Option("--untrusted", help="Mark the project untrusted instead")
    ] = False,
    json_out: JsonOpt = False,
    config: OverrideOpt = None,
) -> None:
    """Trust the project as it is now: its .codex folders load only while they stay unchanged.

    Writes [projects."ROOT"] trust_level into $CODEX_HOME/config.toml and records a fingerprint
    of every .codex folder of the project. Run it again after reviewing a change.

    Example: codex config trust ~/src/project
    """
    from codex_admin.config import LoadOptions, trust_project

    options = LoadOptions(cwd=directory, overrides=[*context.ROOT_OVERRIDES, *(config or [])])
    result = trust_project(options, level="untrusted" if untrusted else "trusted")
    if json_out:
        print_json(result.to_json())
        return
    out = sys.stdout.write
    out(f'{result.key}: trust_level = "{result.level}" in {result.user_config}\n')
    if result.level != "trusted":
        out("Its project configuration is not loaded.\n")
        return
    out(f"Recorded {len(result.layers)} project config folder(s) in {result.record_file}:\n")
    for layer in result.layers:
        out(f"  {layer}\n")
    if not result.complete:
        out("  (the scan stopped early: run this command in a deeper folder to add its .codex)\n")
    out(
        "Only these contents load. After a change (git pull, an edit) review it and run"
        f" `codex config trust {result.key}` again.\n"
    )
