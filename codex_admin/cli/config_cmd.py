"""`codex config show|explain|validate|schema`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

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
from codex_admin.cli.output import print_json, print_warnings

if TYPE_CHECKING:
    from codex_admin.config import ConfigResult

app = make_app("Show, explain, validate and export the layered configuration.")

_LAYER_NOTES = {
    "session_flags": "-c overrides",
    "mdm": "MDM com.openai.codex:config_toml_base64 (CODEX_MDM_PLIST or managed preferences)",
    "profile": "[profiles.NAME] from the merged files",
}
_RESOLVED_ORDER = (
    "approval_policy",
    "sandbox_mode",
    "approvals_reviewer",
    "web_search",
    "model",
    "model_provider",
    "profile",
)


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
    """The effective configuration and where each value comes from."""
    result = _load(cwd, config, profile, model, sandbox, approval, full_auto, bypass, oss, strict)
    if json_out:
        print_json(result.to_json())
        return
    print_warnings(result.warnings)
    out = sys.stdout.write
    trust = result.project_trust or "not trusted"
    out(f"Effective configuration for {result.cwd}\n")
    out(f"  project root: {result.project_root} ({trust})\n\nResolved:\n")
    for key in _RESOLVED_ORDER:
        value = result.resolved.get(key)
        source = result.resolved_sources.get(key, "")
        out(f"  {key:<20} {toml_value(value):<24} # {source}\n")
    out("\nConfiguration (highest layer that set each key):\n")
    if not result.origins:
        out("  (nothing set; built-in defaults apply)\n")
    from codex_admin.config import get_value

    for key, origin in sorted(result.origins.items()):
        out(f"  {key} = {toml_value(get_value(result.config, key))}  # {origin}\n")
    out("\nLayers (highest precedence first):\n")
    for layer in reversed(result.layers):
        path = str(layer.path) if layer.path else _LAYER_NOTES.get(layer.kind, "")
        status = "enabled" if layer.enabled else "disabled"
        if layer.enabled and not layer.exists and layer.kind not in ("session_flags", "profile"):
            status = "absent"
        out(f"  {status:<9} {layer.name}: {path}\n")
        if layer.disabled_reason:
            for line in layer.disabled_reason.splitlines():
                out(f"  {'':<9}   {line}\n")
    out("\nRequirements:\n")
    if not result.requirements:
        out("  (none)\n")
    for name, entry in result.requirements.fields.items():
        out(f"  {name} = {toml_value(entry.value)}  (set by {entry.source})\n")


@app.command("explain")
def explain(
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. sandbox_mode or features.hooks")],
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
    """Every layer's value for KEY, which one won and why, and any requirement on it."""
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
    paths: Annotated[list[Path], typer.Argument(help="Files to check")],
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="config | managed | requirements (default: by name)"),
    ] = None,
    json_out: JsonOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Schema and semantic checks with located errors; exit 1 on any error."""
    from codex_admin.config import KINDS, validate_files

    if kind is not None and kind not in KINDS:
        raise typer.BadParameter(
            f"{kind!r} is not one of {', '.join(KINDS)}", param_hint="'--kind'"
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
    kind: Annotated[str, typer.Argument(help="config | requirements")] = "config",
) -> None:
    """JSON Schema generated from the models (managed/schema/*.json are made by this)."""
    from codex_admin.config import SCHEMA_KINDS, json_schema_text

    if kind not in SCHEMA_KINDS:
        raise typer.BadParameter(
            f"{kind!r} is not one of {', '.join(SCHEMA_KINDS)}", param_hint="'KIND'"
        )
    sys.stdout.write(json_schema_text(kind))
