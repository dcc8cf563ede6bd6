"""`codex requirements show`."""

from __future__ import annotations

import sys

from codex_admin.cli.app import make_app
from codex_admin.cli.common import CwdOpt, JsonOpt, StrictOpt, load_effective_config, toml_value
from codex_admin.cli.output import print_json, print_warnings

app = make_app("Show the enforced requirements and where each comes from.")


@app.callback()
def _group() -> None:
    """Show the enforced requirements and where each comes from."""


@app.command("show")
def show(json_out: JsonOpt = False, cwd: CwdOpt = None, strict: StrictOpt = False) -> None:
    """The composed requirements with the source of each field.

    Example: codex requirements show --json
    """
    result = load_effective_config(cwd, strict=strict)
    if json_out:
        print_json(
            {
                "requirements": result.requirements.to_json(),
                "sources": [s.to_json() for s in result.requirement_sources],
                "warnings": result.requirements.warnings,
            }
        )
        return
    print_warnings(result.requirements.warnings)
    out = sys.stdout.write
    out("Requirement sources (highest precedence first):\n")
    for source in result.requirement_sources:
        out(f"  {'present' if source.present else 'absent ':<8} {source.name}\n")
    out("\nEffective requirements (first source that sets a field wins):\n")
    if not result.requirements:
        out("  (none: users may choose any value)\n")
    for name, entry in result.requirements.fields.items():
        out(f"  {name} = {toml_value(entry.value)}\n      set by {entry.source}\n")
