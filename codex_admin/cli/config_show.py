"""`codex config show`: rendering, and a typer-free fast path for well-formed invocations.

`config show --json` is what scripts and editors call to learn the effective configuration, so
its start-up matters; typer (which builds pydantic adapters for every command) costs more than
the whole configuration load. The dispatcher hands ``config show`` here first. Handled: any
mix of ``--json``, ``-C/--cd DIR``, ``-c/--config KEY=VALUE``, ``-p/--profile NAME``,
``-m/--model M``, ``-s/--sandbox MODE``, ``-a/--ask-for-approval POLICY``, ``--full-auto``,
``--dangerously-bypass-approvals-and-sandbox``/``--yolo``, ``--oss``, ``--strict-config``
(``--opt=value`` and ``-xVALUE`` forms too) with valid values. Anything else -- help, an unknown
option, a bad choice, a stray argument -- returns False and the typer command answers it, so
usage errors still exit 2 with click's message. Load errors exit 1 in both paths.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codex_admin.cli import context
from codex_admin.cli.fast_args import finish_command, parse_options
from codex_admin.cli.output import print_json, print_warnings, toml_value
from codex_admin.vocabulary import ApprovalPolicy, SandboxMode

if TYPE_CHECKING:
    from codex_admin.config import ConfigResult

__all__ = ["render_show", "try_show"]

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

# option -> (keyword, takes a value)
_OPTIONS: dict[str, tuple[str, bool]] = {
    "--json": ("json", False),
    "-C": ("cwd", True),
    "--cd": ("cwd", True),
    "-c": ("config", True),
    "--config": ("config", True),
    "-p": ("profile", True),
    "--profile": ("profile", True),
    "-m": ("model", True),
    "--model": ("model", True),
    "-s": ("sandbox", True),
    "--sandbox": ("sandbox", True),
    "-a": ("approval", True),
    "--ask-for-approval": ("approval", True),
    "--full-auto": ("full_auto", False),
    "--dangerously-bypass-approvals-and-sandbox": ("bypass", False),
    "--yolo": ("bypass", False),
    "--oss": ("oss", False),
    "--strict-config": ("strict", False),
}
_SANDBOX = {m.value for m in SandboxMode.cli_choices()}
_APPROVAL = {p.value for p in ApprovalPolicy}


def render_show(result: ConfigResult, json_out: bool) -> None:
    """Print the effective configuration (JSON on stdout, or text with warnings on stderr)."""
    if json_out:
        print_json(result.to_json())
        return
    from codex_admin.config import get_value

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
    if result.mdm_unknown_keys:
        out("\nMDM keys Codex does not read (no effect):\n")
        for key in result.mdm_unknown_keys:
            out(f"  {key}\n")
    out("\nRequirements:\n")
    if not result.requirements:
        out("  (none)\n")
    for name, entry in result.requirements.fields.items():
        out(f"  {name} = {toml_value(entry.value)}  (set by {entry.source})\n")


def _parse(args: Sequence[str]) -> dict[str, Any] | None:
    found = parse_options(args, _OPTIONS, repeatable=("config",))
    if found is None:
        return None
    if found.get("sandbox") not in (None, *_SANDBOX):
        return None
    if found.get("approval") not in (None, *_APPROVAL):
        return None
    if found.get("bypass") and (found.get("approval") or found.get("full_auto")):
        return None
    return found


def try_show(args: Sequence[str]) -> bool:
    """Answer `codex config show ARGS` if well-formed; False to defer to typer."""
    parsed = _parse(args)
    if parsed is None:
        return False
    from codex_admin.config import Flags
    from codex_admin.governance import GovernanceRequest, load_governed_config

    request = GovernanceRequest(
        cwd=Path(parsed["cwd"]) if "cwd" in parsed else None,
        overrides=[*context.ROOT_OVERRIDES, *parsed["config"]],
        profile=parsed.get("profile"),
        flags=Flags(
            model=parsed.get("model"),
            sandbox=parsed.get("sandbox"),
            approval=parsed.get("approval"),
            full_auto=bool(parsed.get("full_auto")),
            dangerously_bypass=bool(parsed.get("bypass")),
            oss=bool(parsed.get("oss")),
        ),
        strict=bool(parsed.get("strict")),
    )
    json_out = bool(parsed.get("json"))

    def show() -> int:
        render_show(load_governed_config(request), json_out)
        return 0

    finish_command(show, json_out)
